"""The errors obs raises. Every one names where the problem is and how to fix it.

    ObsError (ValueError)
    ├── ModelError        a platform definition is wrong: path, problem, fix
    │   └── ModelErrors   several of them, all reported at once
    ├── PromQLError       an expression does not parse, or names a metric nobody emits
    ├── RenderError       a renderer failed; names the artifact
    ├── CheckError        an external validator (promtool, amtool, a schema) rejected the output
    └── ToolNotFoundError promtool/amtool missing and no docker engine to run them
"""

from __future__ import annotations


class ObsError(ValueError):
    """Root of every error obs raises on purpose."""


class ModelError(ObsError):
    """A platform definition is invalid.

    ``path`` reads like ``services[bridge].slos[availability].objective``; ``problem`` says what is
    wrong with the value and ``fix`` what to write instead.
    """

    def __init__(self, path: str, problem: str, fix: str = "") -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.path}: " if self.path else ""
        hint = f" ({self.fix})" if self.fix else ""
        return f"{where}{self.problem}{hint}"

    def at(self, prefix: str) -> ModelError:
        """The same error, seen from the object that contains this one."""
        if not prefix:
            return self
        path = f"{prefix}.{self.path}" if self.path and not self.path.startswith("[") else f"{prefix}{self.path}"
        err = ModelError(path, self.problem, self.fix)
        err.__cause__ = self.__cause__
        return err


class ModelErrors(ModelError):
    """Every mistake found in one definition, each a :class:`ModelError` on a line of its own."""

    errors: list[ModelError]

    def __init__(self, errors: list[ModelError]) -> None:
        flat: list[ModelError] = []
        for err in errors:
            flat.extend(err.errors if isinstance(err, ModelErrors) else [err])
        self.errors = flat
        first = flat[0]
        super().__init__(first.path, first.problem, first.fix)

    def _message(self) -> str:
        if len(getattr(self, "errors", ())) < 2:
            return super()._message()
        return f"{len(self.errors)} problems:\n" + "\n".join(f"  {e}" for e in self.errors)

    def at(self, prefix: str) -> ModelErrors:
        return ModelErrors([e.at(prefix) for e in self.errors])


def collect(errors: list[ModelError]) -> None:
    """Raise the errors found, if any: one as itself, several together."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ModelErrors(errors)


class PromQLError(ObsError):
    """An expression does not parse or selects a metric that neither the contract, a recording rule,
    nor the author declared."""

    def __init__(self, artifact: str, expr: str, problem: str) -> None:
        self.artifact = artifact
        self.expr = expr
        self.problem = problem
        super().__init__(f"{artifact}: {problem}\n  in: {expr}")


class RenderError(ObsError):
    """A renderer raised; the message names the artifact group."""


class CheckError(ObsError):
    """An external validator rejected generated output; the tool's own message is included."""


class ToolNotFoundError(ObsError):
    """A required external tool is not installed and cannot be run through docker."""


__all__ = ["CheckError", "ModelError", "ModelErrors", "ObsError", "PromQLError", "RenderError", "ToolNotFoundError", "collect"]
