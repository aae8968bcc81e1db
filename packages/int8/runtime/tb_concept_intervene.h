/*
 * tb_concept_intervene.h - concept bottleneck test-time intervention on int8 concept codes,
 * bit-exact with src/ops/concept-intervene.ts. In place allowed (in == out).
 */
#ifndef TB_CONCEPT_INTERVENE_H
#define TB_CONCEPT_INTERVENE_H

#include <stdint.h>

/*
 * out[i] = interventions[i] == 1 ? high[i] : interventions[i] == 0 ? low[i] : in[i];
 * interventions may be NULL (a copy). k concepts.
 */
void tb_concept_intervene_s8(const int8_t *in, int8_t *out, int32_t k, const int8_t *low, const int8_t *high,
                             const int8_t *interventions);

#endif /* TB_CONCEPT_INTERVENE_H */
