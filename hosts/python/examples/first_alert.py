"""Twenty lines to a first alert: the TrailDiscover sample's AI-service recon burst.

Run from the repository root: python hosts/python/examples/first_alert.py
"""
import sys

from recon_detector import Config, RuleConfig, detect_file

# The Sentinel rule with examples/ai-recon.toml's command list (AI-service recon).
commands = [
    "bedrock-agent.list-agents", "bedrock-agent.list-knowledge-bases",
    "bedrock-agent.get-knowledge-base", "bedrock.list-custom-models",
    "bedrock.list-inference-profiles", "bedrock.list-model-invocation-jobs",
    "sagemaker.list-models", "sagemaker.list-endpoints", "sagemaker.list-training-jobs",
    "opensearchserverless.list-collections", "opensearchserverless.list-access-policies",
]
path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/cloudtrail/traildiscover/aws_cli_burst_windows.jsonl"

for alert in detect_file(path, Config(rules=[RuleConfig("sentinel", commands=commands)])):
    print(alert.title)  # Suspicious AWS CLI reconnaissance by AdanAlvarez - 11 commands
    print(alert.to_json())  # the line `recon detect` prints, byte for byte
