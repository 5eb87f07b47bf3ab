"""One CDK construct per AWS concern; `infra/stacks.py` composes them."""
