import { deriveSeed, OptionsError, RftError, type RolloutBatch, ShapeError } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import { expect, it } from 'vitest';
import { createTableBigramPolicy } from '@rftkit/test-kit';
import { createRolloutEngine } from './engine';
import { bigram, forcedTable, prompts, sampling, simulateRow, softTable, tokenizer } from './test-utils/fixtures';

const row = (b: RolloutBatch, r: number) => {
  const T = b.seqLen;
  const slice = <A extends Int32Array | Float32Array>(a: A) => a.subarray(r * T, (r + 1) * T) as A;
  const mask = slice(b.responseMask);
  const idx = [...mask.keys()].filter((i) => mask[i] === 1);
  return {
    response: idx.map((i) => slice(b.tokens)[i]!),
    logp: idx.map((i) => slice(b.behaviourLogp)[i]!),
    logpT1: idx.map((i) => slice(b.logpT1)[i]!),
    real: [...slice(b.tokens)].filter((_, i) => slice(b.attentionMask)[i] === 1),
  };
};

describeBackends('rollout engine', () => {
  it('fills every field of the batch: rows p·n+s, groups, seeds, left-padded prompts', async () => {
    const policy = bigram();
    const engine = createRolloutEngine({ policy });
    const s = sampling({ maxNewTokens: 5 });
    const b = await expectNoLeaks(() =>
      engine.generate({ prompts: prompts('a', 'ab'), samplesPerPrompt: 3, sampling: s, seed: 11, step: 4, groupIdOffset: 7 }),
    );
    expect(b.rows).toBe(6);
    expect([...b.groupIds]).toEqual([7, 7, 7, 8, 8, 8]);
    expect([...b.promptIndex]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(b.prompts.map((p) => p.prompt)).toEqual(['a', 'ab']);
    expect(b.source).toEqual(new Array(6).fill('main'));
    expect(b.sampling.every((x) => x.temperature === 1 && x.maxNewTokens === 5)).toBe(true);
    for (let p = 0; p < 2; p++) {
      for (let i = 0; i < 3; i++) expect(b.seeds[p * 3 + i]).toBe(deriveSeed(11, 'main', 4, p, i));
    }
    // [pad, bos, a] and [bos, a, b]: left padding puts every prompt's end at the same column.
    expect([...policy.calls.prompts[0]!]).toEqual([0, 1, 3, 0, 1, 3, 0, 1, 3, 1, 3, 4, 1, 3, 4, 1, 3, 4]);
    expect([...policy.calls.masks[0]!.subarray(0, 3)]).toEqual([0, 1, 1]);
    expect(b.seqLen).toBe(3 + Math.max(...b.responseMask.reduce((acc, m, i) => {
      acc[Math.floor(i / b.seqLen)]! += m;
      return acc;
    }, new Array(6).fill(0))));
    for (let r = 0; r < 6; r++) {
      const T = b.seqLen;
      expect(b.tokens[r * T]).toBe(r < 3 ? tokenizer.padId : tokenizer.bosId);
      expect(b.attentionMask[r * T]).toBe(r < 3 ? 0 : 1);
      // Response mask ⊆ attention mask, and padding is only at the ends.
      for (let t = 0; t < T; t++) {
        if (b.responseMask[r * T + t]) expect(b.attentionMask[r * T + t]).toBe(1);
        if (!b.attentionMask[r * T + t]) expect(b.tokens[r * T + t]).toBe(tokenizer.padId);
      }
    }
  });

  it('each row equals the row decoded alone from its seed (tokens, log-probs, finish reason)', async () => {
    const table = softTable();
    const engine = createRolloutEngine({ policy: bigram(table) });
    for (const s of [sampling({ maxNewTokens: 6 }), sampling({ temperature: 0.7, topK: 3, maxNewTokens: 6 }), sampling({ temperature: 1.5, topP: 0.8, minP: 0.1, stopTokens: [4] })]) {
      const b = await engine.generate({ prompts: prompts('a', 'ba', ''), samplesPerPrompt: 4, sampling: s, seed: 3, step: 1 });
      for (let r = 0; r < b.rows; r++) {
        const p = Math.floor(r / 4);
        const want = simulateRow(table, b.prompts[p]!.prompt, b.seeds[r]!, s);
        const got = row(b, r);
        expect(got.response).toEqual(want.tokens);
        expectAllClose(got.logp, want.logp, { atol: 1e-5, label: 'behaviourLogp' });
        expectAllClose(got.logpT1, want.logpT1, { atol: 1e-5, label: 'logpT1' });
        expect(b.finishReason[r]).toBe(want.finish);
        expect(got.real).toEqual([tokenizer.bosId, ...tokenizer.encode(b.prompts[p]!.prompt), ...want.tokens]);
        const text = tokenizer.decode(want.finish === 'stop' ? want.tokens.slice(0, -1) : want.tokens);
        expect(b.responses[r]).toBe(text);
      }
    }
  });

  it('same seed gives the same batch; other seeds, steps, streams and sample indices give other draws', async () => {
    const engine = createRolloutEngine({ policy: bigram() });
    const req = { prompts: prompts('a', 'b'), samplesPerPrompt: 8, sampling: sampling({ maxNewTokens: 12 }), seed: 5, step: 2 };
    const a = await engine.generate(req);
    const again = await engine.generate(req);
    expect(again.tokens).toEqual(a.tokens);
    expect(again.behaviourLogp).toEqual(a.behaviourLogp);
    const responses = (b: RolloutBatch) => b.responses.map((x, i) => `${x}|${b.finishReason[i]}`);
    // Samples of one prompt are distinct streams (12 tokens from 8 rows: collisions are unlikely).
    expect(new Set(responses(a).slice(0, 8)).size).toBeGreaterThan(4);
    for (const change of [{ seed: 6 }, { step: 3 }, { stream: 'aepo' }]) {
      const other = await engine.generate({ ...req, ...change });
      expect(responses(other)).not.toEqual(responses(a));
    }
  });

  it("a row's tokens do not depend on the other prompts in the batch", async () => {
    const engine = createRolloutEngine({ policy: bigram() });
    const base = { samplesPerPrompt: 3, sampling: sampling({ maxNewTokens: 10 }), seed: 9, step: 0 };
    const alone = await engine.generate({ ...base, prompts: prompts('ab') });
    // Another prompt (longer, so more left padding) and more samples elsewhere in the batch.
    const mixed = await engine.generate({ ...base, prompts: [...prompts('ab'), { id: 'x', prompt: 'babab' }] });
    for (let r = 0; r < 3; r++) {
      expect(row(mixed, r)).toEqual(row(alone, r));
      expect(mixed.responses[r]).toBe(alone.responses[r]);
    }
  });

  it('a request split into chunks with promptIndexOffset samples exactly what the whole request does', async () => {
    const engine = createRolloutEngine({ policy: bigram() });
    const texts = ['a', 'ba', '', 'abab', 'b'];
    const base = { samplesPerPrompt: 4, sampling: sampling({ temperature: 1.2, maxNewTokens: 10 }), seed: 5, step: 2, stream: 'eval' };
    const whole = await engine.generate({ ...base, prompts: prompts(...texts) });
    const all = prompts(...texts);
    const first = await engine.generate({ ...base, prompts: all.slice(0, 2) });
    const second = await engine.generate({ ...base, prompts: all.slice(2), promptIndexOffset: 2 });
    expect(first.rows + second.rows).toBe(whole.rows);
    // Different left padding per chunk, so compare each row's real tokens and log-probs.
    for (let r = 0; r < whole.rows; r++) {
      const [part, rr] = r < first.rows ? [first, r] : [second, r - first.rows];
      expect(row(part, rr)).toEqual(row(whole, r));
      expect(part.responses[rr]).toBe(whole.responses[r]);
      expect(part.finishReason[rr]).toBe(whole.finishReason[r]);
      expect(part.seeds[rr]).toBe(whole.seeds[r]);
    }
    // promptIndex and group ids stay per-request.
    expect([...second.promptIndex]).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(second.groupIds[0]).toBe(0);
    // Without the offset the second chunk would reuse the first prompts' seeds.
    const unshifted = await engine.generate({ ...base, prompts: all.slice(2) });
    expect(unshifted.seeds[0]).toBe(whole.seeds[0]);
    expect(unshifted.seeds[0]).not.toBe(second.seeds[0]);
  });

  it('stops at eos or a stop token (kept in the response, mask 1), or at maxNewTokens', async () => {
    const policy = bigram(forcedTable());
    const engine = createRolloutEngine({ policy });
    const req = { prompts: prompts('', 'a'), samplesPerPrompt: 1, seed: 1, step: 0 };
    // bos → a → b → eos
    const full = await engine.generate({ ...req, sampling: sampling({ maxNewTokens: 8 }) });
    expect(row(full, 0).response).toEqual([3, 4, 2]);
    expect(row(full, 1).response).toEqual([4, 2]);
    expect(full.finishReason).toEqual(['stop', 'stop']);
    expect(full.responses).toEqual(['ab', 'b']);
    expect(full.seqLen).toBe(2 + 3);
    // Row 1 finished one token earlier: it was fed pad afterwards and stayed unchanged.
    expect(policy.calls.fed.map((f) => [...f])).toEqual([
      [3, 4],
      [4, 0],
    ]);
    expect([...full.responseMask]).toEqual([0, 0, 1, 1, 1, 0, 0, 1, 1, 0]);
    expect([...full.attentionMask]).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 0]);

    const stopped = await engine.generate({ ...req, sampling: sampling({ stopTokens: [4] }) });
    expect(row(stopped, 0).response).toEqual([3, 4]);
    expect(row(stopped, 1).response).toEqual([4]);
    expect(stopped.finishReason).toEqual(['stop', 'stop']);
    expect(stopped.responses).toEqual(['a', '']);

    const cut = await engine.generate({ ...req, sampling: sampling({ maxNewTokens: 2 }) });
    expect(row(cut, 0).response).toEqual([3, 4]);
    expect(row(cut, 1).response).toEqual([4, 2]);
    expect(cut.finishReason).toEqual(['length', 'stop']);
    expect(cut.responses).toEqual(['ab', 'b']);
    expectAllClose(row(cut, 0).logp, [0, 0], { atol: 1e-6 });
  });

  it("every id in the tokenizer's stopTokenIds ends a sample, not only eosId", async () => {
    const req = { prompts: prompts('', 'a'), samplesPerPrompt: 1, seed: 1, step: 0, sampling: sampling() };
    const policy = createTableBigramPolicy({ tokenizer: { ...tokenizer, stopTokenIds: [2, 4] }, table: forcedTable(), maxSeqLen: 64 });
    const b = await createRolloutEngine({ policy }).generate(req);
    // bos → a → b (a stop id) ; a → b
    expect(row(b, 0).response).toEqual([3, 4]);
    expect(row(b, 1).response).toEqual([4]);
    expect(b.finishReason).toEqual(['stop', 'stop']);
  });

  it('prompts start with bos only when the tokenizer declares one', async () => {
    const req = { prompts: prompts('ba'), samplesPerPrompt: 1, seed: 1, step: 0, sampling: sampling({ maxNewTokens: 1 }) };
    const run = (tok: typeof tokenizer) =>
      createRolloutEngine({ policy: createTableBigramPolicy({ tokenizer: tok, table: forcedTable(), maxSeqLen: 64 }) }).generate(req);
    expect(row(await run(tokenizer), 0).real).toEqual([1, 4, 3, 4]);
    const noBos = await run({ ...tokenizer, bosTokenId: null });
    expect(row(noBos, 0).real).toEqual([4, 3, 4]);
    expect(noBos.seqLen).toBe(3);
  });

  it("clamps responses to the policy's maxSeqLen and says 'length'", async () => {
    const policy = bigram(softTable(), 5);
    const engine = createRolloutEngine({ policy });
    const b = await engine.generate({ prompts: prompts('ab', 'b'), samplesPerPrompt: 4, sampling: sampling({ maxNewTokens: 30 }), seed: 2, step: 0 });
    expect(policy.calls.maxNewTokens).toEqual([2]);
    expect(b.seqLen).toBeLessThanOrEqual(5);
    for (let r = 0; r < b.rows; r++) {
      const n = row(b, r).response.length;
      expect(n).toBeLessThanOrEqual(2);
      if (b.finishReason[r] === 'length') expect(n).toBe(2);
    }
  });

  it('returns an empty batch for no prompts', async () => {
    const b = await createRolloutEngine({ policy: bigram() }).generate({ prompts: [], samplesPerPrompt: 4, sampling: sampling(), seed: 0, step: 0 });
    expect(b.rows).toBe(0);
    expect(b.tokens.length).toBe(0);
  });

  it('rejects bad requests with errors naming the field', async () => {
    const engine = createRolloutEngine({ policy: bigram(softTable(), 4) });
    const req = { prompts: prompts('a'), samplesPerPrompt: 2, sampling: sampling(), seed: 0, step: 0 };
    await expect(engine.generate({ ...req, samplesPerPrompt: 0 })).rejects.toThrow(/samplesPerPrompt/);
    await expect(engine.generate({ ...req, promptIndexOffset: -1 })).rejects.toThrow(/promptIndexOffset/);
    await expect(engine.generate({ ...req, promptIndexOffset: 1.5 })).rejects.toThrow(/promptIndexOffset/);
    await expect(engine.generate({ ...req, sampling: sampling({ temperature: -1 }) })).rejects.toThrow(OptionsError);
    await expect(engine.generate({ ...req, sampling: sampling({ stopTokens: [9] }) })).rejects.toThrow(/stopTokens\[0\].*vocab size 5/);
    await expect(engine.generate({ ...req, prompts: prompts('abab') })).rejects.toThrow(ShapeError);
    await expect(engine.generate({ ...req, prompts: prompts('xyz') })).rejects.toThrow(RftError);
    await expect(engine.generate({ ...req, prompts: prompts('xyz') })).rejects.toThrow(/prompt 0 \('p0'\)/);
  });
});
