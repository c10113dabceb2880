// The backend a [bot.backend] section describes.

import type { BotConfig } from '../config.js';
import { openGgufBackend } from './gguf.js';
import { OpenAiBackend } from './openai.js';
import { type Backend, BackendError } from './types.js';

export type { Backend } from './types.js';

export async function openBackend(
  config: BotConfig['backend'],
  options: { env: NodeJS.ProcessEnv; sequences: number },
): Promise<Backend> {
  if (config.kind === 'gguf')
    return openGgufBackend({
      modelPath: config.gguf_file!,
      threads: config.threads,
      contextSize: config.context_size,
      gpuLayers: config.gpu_layers,
      sequences: options.sequences,
    });
  let apiKey: string | undefined;
  if (config.api_key_env !== '') {
    apiKey = options.env[config.api_key_env];
    if (apiKey === undefined || apiKey === '')
      throw new BackendError(
        'unavailable',
        `bot.backend.api_key_env names ${config.api_key_env}, but that environment variable is not set`,
      );
  }
  const extraBody =
    config.extra_body === '' ? undefined : (JSON.parse(config.extra_body) as Record<string, unknown>);
  return new OpenAiBackend({ baseUrl: config.base_url, apiKey, extraBody });
}
