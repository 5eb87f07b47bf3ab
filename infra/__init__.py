"""AWS CDK infrastructure for aiornot: one construct per AWS concern, stacks that compose them."""
