"""The Pulumi program's parts: one component per concern, composed by `__main__.py`.

Nothing here is shipped to Lambda (the package builder ships `app/` and
`adapters/` only). `rules.py`, `config.py` and `cost.py` import no Pulumi
module at load time, so the policy pack and the cost CLI run without the
Pulumi SDK's providers.
"""
