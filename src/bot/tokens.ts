// Token counts without a tokenizer: budgets of history and daily quotas only need an estimate
// that errs on the generous side of the model's real count. About four bytes of UTF-8 per token
// holds for English with the common BPE vocabularies; scripts with multibyte characters come out
// at a token or so per character, which is also about right. Each message costs a few tokens of
// framing (role markers) in every chat template.

const PER_MESSAGE = 4;

export function estimateTokens(text: string): number {
  return PER_MESSAGE + Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}
