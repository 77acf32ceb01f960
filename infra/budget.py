"""An optional AWS Budgets alert (`monthlyBudgetUsd` + `alertEmail`).

Budgets are account-wide here: filtering by the Project tag only works once
the tag is activated as a cost allocation tag, which Pulumi cannot do for an
account on its first deploy. A family account holds little else.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig


class BudgetAlert(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("yss:ops:BudgetAlert", name, None, opts)
        if config.monthly_budget_usd is None or not config.alert_email:
            raise ValueError("BudgetAlert needs monthlyBudgetUsd and alertEmail")
        email = [config.alert_email]
        self.budget = aws.budgets.Budget(
            name,
            budget_type="COST",
            limit_amount=f"{config.monthly_budget_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            notifications=[
                {
                    "comparison_operator": "GREATER_THAN",
                    "threshold": 80,
                    "threshold_type": "PERCENTAGE",
                    "notification_type": "FORECASTED",
                    "subscriber_email_addresses": email,
                },
                {
                    "comparison_operator": "GREATER_THAN",
                    "threshold": 100,
                    "threshold_type": "PERCENTAGE",
                    "notification_type": "ACTUAL",
                    "subscriber_email_addresses": email,
                },
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"budget": self.budget.name})
