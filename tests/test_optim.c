/* Optimizer tests: each update rule against a small double-precision reference written from the published
 * algorithms (PyTorch's documentation), gradient clipping, and each schedule's learning-rate sequence. */
#include <stdlib.h>

#include "check.h"
#include "dnn/optim.h"

enum { N = 5, STEPS = 7 };

/* Reference, in double: params p, grads from a fixed sequence, state m, v. */
static void reference(const dnn_optim_config *c, double *p, double lr)
{
    double m[N] = {0}, v[N] = {0};
    for (int t = 1; t <= STEPS; t++) {
        double g[N];
        for (int i = 0; i < N; i++) g[i] = sin(1.7 * i + 0.9 * t) * (i + 1);
        if (c->clip_norm > 0) {
            double n2 = 0;
            for (int i = 0; i < N; i++) n2 += g[i] * g[i];
            double norm = sqrt(n2);
            if (norm > c->clip_norm)
                for (int i = 0; i < N; i++) g[i] *= c->clip_norm / norm;
        }
        for (int i = 0; i < N; i++) {
            switch (c->kind) {
            case DNN_OPT_SGD:
                if (c->momentum == 0)
                    p[i] -= lr * g[i];
                else {
                    m[i] = c->momentum * m[i] + g[i];
                    p[i] -= lr * (c->nesterov ? g[i] + c->momentum * m[i] : m[i]);
                }
                break;
            case DNN_OPT_ADAM:
            case DNN_OPT_ADAMW: {
                if (c->kind == DNN_OPT_ADAMW) p[i] *= 1 - lr * c->weight_decay;
                m[i] = c->beta1 * m[i] + (1 - c->beta1) * g[i];
                v[i] = c->beta2 * v[i] + (1 - c->beta2) * g[i] * g[i];
                double mh = m[i] / (1 - pow(c->beta1, t)), vh = v[i] / (1 - pow(c->beta2, t));
                p[i] -= lr * mh / (sqrt(vh) + c->eps);
                break;
            }
            case DNN_OPT_RMSPROP: {
                v[i] = c->rho * v[i] + (1 - c->rho) * g[i] * g[i];
                double d = g[i] / (sqrt(v[i]) + c->eps);
                if (c->momentum > 0) d = m[i] = c->momentum * m[i] + d;
                p[i] -= lr * d;
                break;
            }
            }
        }
    }
}

static void run(const char *name, dnn_optim_config c, double lr)
{
    dnn_optim *o;
    dnn_error err;
    if (dnn_optim_create(&o, &c, N, &err)) {
        check_failures++;
        return;
    }
    float p[N], g[N];
    double ref[N];
    for (int i = 0; i < N; i++) p[i] = (float)(ref[i] = 0.5 - 0.3 * i);
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) g[i] = (float)(sin(1.7 * i + 0.9 * t) * (i + 1));
        dnn_optim_step(o, p, g, lr);
    }
    reference(&c, ref, lr);
    double worst = 0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs(p[i] - ref[i]));
    CHECK_MSG(worst < 2e-6, "%s: parameters differ from the reference by %g", name, worst);
    CHECK(o->t == STEPS);
    dnn_optim_free(o);
}

static dnn_optim_config base(dnn_optim_kind k)
{
    dnn_optim_config c = {.kind = k,
                          .learning_rate = 0.05,
                          .beta1 = 0.9,
                          .beta2 = 0.999,
                          .eps = 1e-8,
                          .rho = 0.9,
                          .weight_decay = 0.01};
    return c;
}

static void test_rules(void)
{
    dnn_optim_config c = base(DNN_OPT_SGD);
    run("sgd", c, 0.05);
    c.momentum = 0.9;
    run("sgd momentum", c, 0.05);
    c.nesterov = 1;
    run("sgd nesterov", c, 0.05);
    run("adam", base(DNN_OPT_ADAM), 0.01);
    c = base(DNN_OPT_ADAM);
    c.beta1 = 0.5, c.beta2 = 0.9, c.eps = 1e-3;
    run("adam betas", c, 0.01);
    run("adamw", base(DNN_OPT_ADAMW), 0.01);
    c = base(DNN_OPT_ADAMW);
    c.weight_decay = 0.5;
    run("adamw strong decay", c, 0.1);
    run("rmsprop", base(DNN_OPT_RMSPROP), 0.01);
    c = base(DNN_OPT_RMSPROP);
    c.momentum = 0.5;
    run("rmsprop momentum", c, 0.01);
    c = base(DNN_OPT_SGD);
    c.clip_norm = 0.5;
    run("sgd clipped", c, 0.05);
    c = base(DNN_OPT_ADAM);
    c.clip_norm = 1.0;
    run("adam clipped", c, 0.01);

    /* by hand: the first Adam step moves every weight by lr (the bias-corrected ratio m/sqrt(v) is 1) */
    dnn_optim *o;
    dnn_error err;
    c = base(DNN_OPT_ADAM);
    dnn_optim_create(&o, &c, 2, &err);
    float p[2] = {1, 1}, g[2] = {0.5f, -3};
    dnn_optim_step(o, p, g, 0.1);
    CHECK_NEAR(p[0], 0.9, 1e-6);
    CHECK_NEAR(p[1], 1.1, 1e-6);
    dnn_optim_free(o);
    /* clipping reports the norm before clipping: |(3, 4)| = 5 */
    c = base(DNN_OPT_SGD);
    c.clip_norm = 1;
    dnn_optim_create(&o, &c, 2, &err);
    float q[2] = {0, 0}, h[2] = {3, 4};
    CHECK_NEAR(dnn_optim_step(o, q, h, 1.0), 5.0, 1e-6);
    CHECK_NEAR(q[0], -0.6, 1e-6);
    CHECK_NEAR(q[1], -0.8, 1e-6);
    dnn_optim_free(o);
}

static void test_schedules(void)
{
    dnn_optim_config c = base(DNN_OPT_SGD);
    c.learning_rate = 1.0;
    dnn_schedule s;
    c.schedule = (dnn_schedule_config){.kind = DNN_SCHED_STEP, .step_size = 2, .gamma = 0.5};
    dnn_schedule_start(&s, &c);
    double step[] = {1, 1, 0.5, 0.5, 0.25, 0.25};
    for (int e = 0; e < 6; e++) CHECK_NEAR(dnn_schedule_lr(&s, &c, e, 6), step[e], 1e-12);

    c.schedule = (dnn_schedule_config){.kind = DNN_SCHED_COSINE, .warmup_epochs = 2, .min_lr = 0.1};
    /* linear warm-up to the base rate, then half a cosine from it to min_lr at the last epoch */
    double cosine[] = {0.5, 1.0, 1.0, 0.1 + 0.9 * 0.75, 0.1 + 0.9 * 0.25, 0.1};
    for (int e = 0; e < 6; e++) CHECK_NEAR(dnn_schedule_lr(&s, &c, e, 6), cosine[e], 1e-12);

    c.schedule = (dnn_schedule_config){.kind = DNN_SCHED_PLATEAU,
                                       .factor = 0.5,
                                       .patience = 1,
                                       .min_delta = 0.01,
                                       .min_lr = 0.2,
                                       .monitor = DNN_MONITOR_VAL_LOSS};
    dnn_schedule_start(&s, &c);
    /* improvements, then two epochs without (patience 1 is exceeded), then again, then the floor */
    double seen[] = {1.0, 0.9, 0.895, 0.9, 0.91, 0.92, 0.95, 0.97, 0.99};
    double lr[] = {1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2};
    for (int e = 0; e < 9; e++) {
        dnn_schedule_observe(&s, &c, seen[e], 1);
        CHECK_MSG(fabs(dnn_schedule_lr(&s, &c, e, 9) - lr[e]) < 1e-12, "plateau epoch %d: lr %g, expected %g",
                  e, dnn_schedule_lr(&s, &c, e, 9), lr[e]);
    }
}

int main(void)
{
    test_rules();
    test_schedules();
    return check_done("test_optim");
}
