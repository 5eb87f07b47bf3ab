"""The test harness shared by tests, `bench/` and the load test: the Runtime-API emulator,
API Gateway event builders, background servers, the S3 server and test bundles."""
