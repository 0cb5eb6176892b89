// Chat templates (Jinja, as transformers renders them) through @huggingface/jinja, which
// applies transformers' trim_blocks / lstrip_blocks and provides raise_exception / strftime_now.
import { Template } from '@huggingface/jinja';
import { CheckpointError } from '@rftkit/core';

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Appends the assistant turn header, so the model writes the reply. Default false (as in transformers). */
  addGenerationPrompt?: boolean;
  /** More template variables (e.g. `enable_thinking` for Qwen3, `tools`). */
  variables?: Record<string, unknown>;
}

/**
 * The template in use: chat_template.jinja wins; tokenizer_config.json's chat_template may be a
 * string or a list of `{ name, template }` (the one named `default` is used).
 */
export function selectChatTemplate(fileTemplate: string | undefined, configTemplate: unknown, where: string): string | null {
  if (fileTemplate !== undefined) return fileTemplate;
  if (configTemplate === undefined || configTemplate === null) return null;
  if (typeof configTemplate === 'string') return configTemplate;
  if (Array.isArray(configTemplate)) {
    const named = configTemplate.find((t) => t && typeof t === 'object' && t.name === 'default');
    if (named && typeof named.template === 'string') return named.template;
  }
  throw new CheckpointError(where, "tokenizer_config.json chat_template must be a string or a list with a { name: 'default', template } entry");
}

/** Parses a template once (renderChatTemplate accepts the result). */
export function compileChatTemplate(template: string): Template {
  return new Template(template);
}

export function renderChatTemplate(
  template: string | Template,
  messages: readonly ChatMessage[],
  specialTokens: Readonly<Record<string, string>>,
  options: ChatTemplateOptions = {},
): string {
  for (const [i, m] of messages.entries()) {
    if (typeof m?.role !== 'string' || typeof m.content !== 'string') {
      throw new TypeError(`messages[${i}] must be { role: string, content: string }`);
    }
  }
  const t = typeof template === 'string' ? compileChatTemplate(template) : template;
  return t.render({
    ...specialTokens,
    ...options.variables,
    messages,
    add_generation_prompt: options.addGenerationPrompt ?? false,
  });
}
