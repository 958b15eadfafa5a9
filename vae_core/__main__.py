from vae_core.cli import main

raise SystemExit(main())
