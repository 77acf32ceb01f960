"""The domain's own types, shared by every layer and owned by none of them:
records (`records`), the ports they travel through (`ports`), domain errors
(`errors`), settings (`settings`) and the password policy.

Nothing here imports an adapter, an HTTP framework, boto3 or sqlalchemy.
"""
