/* xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that any 64-bit seed is good. */
#include "dnn/rng.h"

#include <math.h>

/* splitmix64's output function: a bijection that scatters consecutive inputs */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x)
{
    return mix64(*x += 0x9E3779B97F4A7C15ull);
}

uint64_t dnn_rng_at(uint64_t key, uint64_t counter)
{
    return mix64(key + (counter + 1) * 0x9E3779B97F4A7C15ull);
}

void dnn_rng_seed(dnn_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t dnn_rng_u64(dnn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t dnn_rng_below(dnn_rng *r, uint64_t n)
{
    /* Rejection: draws in the incomplete top range would favour small values. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = dnn_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double dnn_rng_uniform(dnn_rng *r)
{
    return (double)(dnn_rng_u64(r) >> 11) * 0x1.0p-53;
}

double dnn_rng_normal(dnn_rng *r)
{
    double u1 = 1.0 - dnn_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = dnn_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void dnn_rng_shuffle(dnn_rng *r, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)dnn_rng_below(r, i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
