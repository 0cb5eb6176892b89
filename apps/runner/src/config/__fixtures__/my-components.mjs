// A user component module, as a config's `components: [./my-components.mjs]` loads it.
import { defineComponent } from '@rftkit/core';
import { z } from 'zod';

export const medianBaseline = defineComponent({
  id: 'median-baseline',
  family: 'advantage',
  description: 'r − group median, times scale.',
  schema: z.object({ scale: z.number().positive().default(1) }),
  build: ({ scale }) => ({
    id: 'median-baseline',
    compute: ({ scores, groupIds, responseMask, rows, seqLen }) => {
      const byGroup = new Map();
      for (let r = 0; r < rows; r++) byGroup.set(groupIds[r], [...(byGroup.get(groupIds[r]) ?? []), scores[r]]);
      const median = (xs) => {
        const s = [...xs].sort((a, b) => a - b);
        return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
      };
      const advantages = new Float32Array(rows * seqLen);
      for (let r = 0; r < rows; r++) {
        const a = scale * (scores[r] - median(byGroup.get(groupIds[r])));
        for (let t = 0; t < seqLen; t++) advantages[r * seqLen + t] = a * responseMask[r * seqLen + t];
      }
      return { advantages, metrics: {} };
    },
  }),
});

export const notAComponent = 42;
