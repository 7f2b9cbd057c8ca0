/* The one random number generator: xoshiro256** seeded by splitmix64, state passed explicitly. */
#ifndef DNN_RNG_H
#define DNN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} dnn_rng;

/* Independent streams from one seed: the stream id keeps, say, shuffling unchanged when dropout is
 * added to a model. */
enum { DNN_STREAM_INIT = 1, DNN_STREAM_SPLIT = 2, DNN_STREAM_SHUFFLE = 3, DNN_STREAM_DROPOUT = 4 };
/* Explanations: permutation importance's shuffles, and the sanity check's re-initialised network. */
enum { DNN_STREAM_PERMUTE = 5, DNN_STREAM_RANDOMISE = 6 };

void dnn_rng_seed(dnn_rng *r, uint64_t seed, uint64_t stream);
uint64_t dnn_rng_u64(dnn_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t dnn_rng_below(dnn_rng *r, uint64_t n);
/* Uniform in [0, 1) with 53 random bits. */
double dnn_rng_uniform(dnn_rng *r);
/* Standard normal (Box-Muller; one draw per call keeps the state a plain 256 bits). */
double dnn_rng_normal(dnn_rng *r);
/* The counter-th value of the splitmix64 sequence that starts at key: random access, for draws that must
 * not depend on which process makes them or in what order (dropout masks of a batch split across processes).
 */
uint64_t dnn_rng_at(uint64_t key, uint64_t counter);
/* Fisher-Yates shuffle of idx[0..n). */
void dnn_rng_shuffle(dnn_rng *r, uint32_t *idx, size_t n);

#endif
