"""Operator tools: deploy and its plan, the image tag, smoke checks, the Docker-free task root
and the `make demo` orchestrator. They may import `infra`'s settings and naming and
`lambda_fn`'s manifest contract; never `tests`."""
