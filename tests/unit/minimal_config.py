"""The smallest valid hosts.toml (one local host) that tests of a config section append to."""

ONE_HOST = """
[[host]]
name = "pegasus"
transport = "local"
api_url = "http://127.0.0.1:8000"
model_path = "/m/x.gguf"
ctx = 4096
"""
