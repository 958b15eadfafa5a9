"""The paper's settings in one place (Tello Ayala & Benac 2023): σ, M, the y at which it drew
q(z|y), its models and their names, and the comparison shipped pre-trained (the presets).

TrainConfig's defaults, the CLI's and the app's are these; change the paper's setting here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vae_core.convergence import step_budget

if TYPE_CHECKING:
    from vae_core.config import TrainConfig

PAPER_NOISE_STD = 0.1  # σ, i.e. σ² = 0.01
PAPER_N_COMPONENTS = 10  # M, for the mixture prior and the mixture posterior alike
# The y at which the paper drew q(z|y) (its Figures 2–4) and judged that q "barely changes with
# y"; 1 and −3 lie far outside the data (f's range is [0, 1/4]).
PAPER_Y_VALUES = (1.0, 0.2, -3.0)
# The app's default y: the paper's plus 0.05, inside the data, from high to low.
SHOWN_Y_VALUES = tuple(sorted({*PAPER_Y_VALUES, 0.05}, reverse=True))

MODEL_NAMES = {
    ("gaussian", "gaussian"): "MFG-VAE",
    ("gaussian", "mog"): "MoG-VAE (MoG posterior)",
    ("mog", "gaussian"): "MFG-VAE + MoG prior",
    ("mog", "mog"): "MoG prior + MoG posterior",
}
# (prior, posterior) of the paper's three models, in its order, and the combination it left out.
PAPER_MODELS = (("gaussian", "gaussian"), ("gaussian", "mog"), ("mog", "gaussian"))
FOURTH_MODEL = ("mog", "mog")
# Five seeds: enough for a 95 % interval on a paired difference (t = 2.78) to settle the claims.
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
# σ = 0.1 is the paper's setting; at σ = 0.03 p(y) has sharp edges and the models separate.
PRESET_NOISE_STDS = (PAPER_NOISE_STD, 0.03)


def y_values_text(values) -> str:
    """'1, 0.2, −3': y values as the texts quote them (with a true minus sign)."""
    return ", ".join(f"{y:g}".replace("-", "−") for y in values)


def comparison_configs(
    noise_std: float = PAPER_NOISE_STD,
    n_components: int = PAPER_N_COMPONENTS,
    seeds=DEFAULT_SEEDS,
    include_fourth: bool = True,
    **overrides,
) -> dict[str, list[TrainConfig]]:
    """{model name: one TrainConfig per seed}, all else equal, in the paper's order; the step
    budget follows σ (convergence.step_budget) unless `steps` is given."""
    # Imported here: vae_core.config takes its defaults from this module.
    from vae_core.config import TrainConfig  # noqa: F811

    overrides.setdefault("steps", step_budget(noise_std))
    models = PAPER_MODELS + ((FOURTH_MODEL,) if include_fourth else ())
    return {
        MODEL_NAMES[(prior, posterior)]: [
            TrainConfig(
                prior=prior,
                posterior=posterior,
                n_components=n_components,
                noise_std=noise_std,
                seed=seed,
                **overrides,
            )
            for seed in seeds
        ]
        for prior, posterior in models
    }


def preset_configs() -> list[TrainConfig]:
    """Every TrainConfig shipped pre-trained in vae_core/pretrained (`python -m vae_core presets`)."""
    return [
        config
        for noise_std in PRESET_NOISE_STDS
        for configs in comparison_configs(noise_std).values()
        for config in configs
    ]
