"""A platform defined in Python, as a team would write it."""

from obs import SLO, AvailabilitySLI, Environment, Platform, Service

platform = Platform(
    name="tiny",
    services=(
        Service(
            name="api",
            kind="fastapi",
            team="core",
            runbook_base_url="https://runbooks.example.org/api",
            slos=(SLO("availability", AvailabilitySLI(), 0.99),),
        ),
    ),  # type: ignore[arg-type]
    environments=(Environment("prod"),),
)
