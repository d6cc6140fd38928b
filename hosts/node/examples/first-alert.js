import { createReadStream } from 'node:fs';
import { detect, formatAlert } from 'recon-detector';

// The Sentinel rule with examples/ai-recon.toml's command list (AI-service recon).
const commands = [
  'bedrock-agent.list-agents', 'bedrock-agent.list-knowledge-bases',
  'bedrock-agent.get-knowledge-base', 'bedrock.list-custom-models',
  'bedrock.list-inference-profiles', 'bedrock.list-model-invocation-jobs',
  'sagemaker.list-models', 'sagemaker.list-endpoints', 'sagemaker.list-training-jobs',
  'opensearchserverless.list-collections', 'opensearchserverless.list-access-policies',
];
const file = process.argv[2] ?? 'tests/data/cloudtrail/traildiscover/aws_cli_burst_windows.jsonl';

const run = detect(createReadStream(file), { rules: [{ rule: 'sentinel', commands }] });
for await (const alert of run) {
  console.log(alert.title); // Suspicious AWS CLI reconnaissance by AdanAlvarez - 11 commands
  console.log(formatAlert(alert)); // the line `recon detect` prints, byte for byte
}
