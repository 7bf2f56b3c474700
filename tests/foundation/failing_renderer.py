"""A renderer that fails, to prove a failed build leaves the previous output intact."""

from obs.artifacts import Artifact, RenderContext


def render(ctx: RenderContext) -> list[Artifact]:
    raise RuntimeError(f"cannot render {ctx.env.name}")
