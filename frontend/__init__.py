"""The Gradio frontend: talks to the aiornot HTTP API only, deployable alone as a Space."""
