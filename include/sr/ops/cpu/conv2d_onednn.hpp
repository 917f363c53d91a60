#pragma once
// oneDNN implementation of the float conv2d on the CPU (NHWC activations, OHWI user weights).
//
// bf16 (ConvShape::bf16): x, w and grad_y are rounded to bf16 by oneDNN reorders into per-plan
// scratch buffers; outputs, bias and weight gradients stay float (sr/ops/cpu/precision.hpp).
//
// Primitives are created once per shape and cached per thread (creation costs milliseconds,
// execution of a 48x48 batch layer a few). Weights are given to oneDNN in the layout it prefers
// ("any"): the reorder from our OHWI costs O(weights), nothing next to the convolution itself.
// Measured on the 2-core Zen 5 dev VM: NHWC forward reaches about 94 % of the FMA peak
// (../shared/docs/perf-limits.md §4.1); bench/conv2d_bench.cpp tracks ours.
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "sr/core/error.hpp"

namespace sr::ops::onednn {

struct ConvShape {
    int64_t n = 0, h = 0, w = 0, c = 0, o = 0, k = 0;
    bool has_bias = false;
    bool relu = false;        // fused ReLU post-op (forward only)
    bool accumulate = false;  // fused sum post-op: dst += conv (forward only)
    bool training = false;    // forward_training (keeps the backward hint) vs forward_inference
    bool bf16 = false;        // bf16 operands (x, w, grad_y), float accumulation and outputs
    bool operator==(const ConvShape&) const = default;
};

struct ConvShapeHash {
    std::size_t operator()(const ConvShape& s) const {
        std::size_t h = 1469598103934665603ull;
        for (int64_t v : {s.n, s.h, s.w, s.c, s.o, s.k, int64_t(s.has_bias), int64_t(s.relu), int64_t(s.accumulate),
                          int64_t(s.training), int64_t(s.bf16)})
            h = (h ^ static_cast<std::size_t>(v)) * 1099511628211ull;
        return h;
    }
};

// A chain of convolutions on one NHWC batch [n, h, w, links[0].c] whose result is added, scaled,
// to its input: y = x + res_scale * link_last(... link_0(x)), each link a stride-1 "same" conv with
// optional bias and ReLU. Needs links.back().o == links[0].c and links[i].o == links[i+1].c.
struct ChainLink {
    int64_t c = 0, o = 0, k = 0;
    bool has_bias = false;
    bool relu = false;
    bool operator==(const ChainLink&) const = default;
};
struct ChainShape {
    int64_t n = 0, h = 0, w = 0;
    std::vector<ChainLink> links;
    float res_scale = 1.f;
    bool bf16 = false;
    bool operator==(const ChainShape&) const = default;
};
struct ChainShapeHash {
    std::size_t operator()(const ChainShape& s) const {
        std::size_t h = 1469598103934665603ull;
        auto mix = [&](int64_t v) { h = (h ^ static_cast<std::size_t>(v)) * 1099511628211ull; };
        for (int64_t v : {s.n, s.h, s.w, int64_t(s.bf16), int64_t(s.res_scale * 1e6f)}) mix(v);
        for (const auto& l : s.links)
            for (int64_t v : {l.c, l.o, l.k, int64_t(l.has_bias), int64_t(l.relu)}) mix(v);
        return h;
    }
};

inline dnnl::engine& cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}
inline dnnl::stream& cpu_stream() {
    thread_local dnnl::stream stream(cpu_engine());
    return stream;
}

namespace detail {
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
inline dnnl::memory::desc activations(int64_t n, int64_t c, int64_t h, int64_t w, dt type = dt::f32) {
    return dnnl::memory::desc({n, c, h, w}, type, tag::nhwc);
}
// The type of the convolution's operands (input activations, weights, output gradients).
inline dt operand_type(const ConvShape& s) { return s.bf16 ? dt::bf16 : dt::f32; }
inline dnnl::memory::desc user_weights(int64_t o, int64_t c, int64_t k) {
    return dnnl::memory::desc({o, c, k, k}, dt::f32, tag::ohwi);
}
inline dnnl::memory::desc any_weights(int64_t o, int64_t c, int64_t k, dt type = dt::f32) {
    return dnnl::memory::desc({o, c, k, k}, type, tag::any);
}
inline dnnl::memory::desc bias_desc(int64_t o) { return dnnl::memory::desc({o}, dt::f32, tag::x); }
inline dnnl::memory::dims padding(int64_t k) { return {k / 2, k / 2}; }

inline dnnl::convolution_forward::primitive_desc forward_pd(const ConvShape& s) {
    using namespace dnnl;
    auto desc = convolution_forward::desc(
        s.training ? prop_kind::forward_training : prop_kind::forward_inference, algorithm::convolution_direct,
        activations(s.n, s.c, s.h, s.w, operand_type(s)), any_weights(s.o, s.c, s.k, operand_type(s)),
        s.has_bias ? bias_desc(s.o) : memory::desc(), activations(s.n, s.o, s.h, s.w), {1, 1}, padding(s.k),
        padding(s.k));
    post_ops ops;
    if (s.accumulate) ops.append_sum(1.f);
    if (s.relu) ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    primitive_attr attr;
    attr.set_post_ops(ops);
    return convolution_forward::primitive_desc(desc, attr, cpu_engine());
}

// Weights in the layout a primitive wants: our OHWI buffer itself when they agree, else a cached
// scratch buffer refreshed by a reorder on every call.
class WeightsAdapter {
public:
    WeightsAdapter(const dnnl::memory::desc& wanted, int64_t o, int64_t c, int64_t k)
        : m_user(user_weights(o, c, k)), m_wanted(wanted) {
        if (m_wanted == m_user) return;
        auto& engine = cpu_engine();
        m_scratch = dnnl::memory(m_wanted, engine);
        m_user_to_wanted = dnnl::reorder(dnnl::reorder::primitive_desc(engine, m_user, engine, m_wanted));
        m_wanted_to_user = dnnl::reorder(dnnl::reorder::primitive_desc(engine, m_wanted, engine, m_user));
    }
    // Memory holding `weights` (OHWI) in the wanted layout.
    dnnl::memory to_wanted(const float* weights) {
        dnnl::memory user(m_user, cpu_engine(), const_cast<float*>(weights));
        if (!m_scratch) return user;
        m_user_to_wanted.execute(cpu_stream(), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, m_scratch}});
        return m_scratch;
    }
    // Memory to receive weights in the wanted layout, then copied to `weights` (OHWI) by finish().
    dnnl::memory output_for(float* weights) {
        m_output = weights;
        if (!m_scratch) return dnnl::memory(m_user, cpu_engine(), weights);
        return m_scratch;
    }
    void finish() {
        if (!m_scratch) return;
        dnnl::memory user(m_user, cpu_engine(), m_output);
        m_wanted_to_user.execute(cpu_stream(), {{DNNL_ARG_FROM, m_scratch}, {DNNL_ARG_TO, user}});
    }

private:
    dnnl::memory::desc m_user, m_wanted;
    dnnl::memory m_scratch;
    dnnl::reorder m_user_to_wanted, m_wanted_to_user;
    float* m_output = nullptr;
};

// Float NHWC activations as a primitive reads them: the caller's buffer itself for fp32, else
// converted (rounded to nearest even) into a scratch buffer of the plan on every call.
class ActivationsAdapter {
public:
    ActivationsAdapter(const dnnl::memory::desc& wanted, int64_t n, int64_t c, int64_t h, int64_t w)
        : m_user(activations(n, c, h, w)), m_wanted(wanted) {
        if (m_wanted == m_user) return;
        auto& engine = cpu_engine();
        m_scratch = dnnl::memory(m_wanted, engine);
        m_convert = dnnl::reorder(dnnl::reorder::primitive_desc(engine, m_user, engine, m_wanted));
    }
    dnnl::memory to_wanted(const float* data) {
        dnnl::memory user(m_user, cpu_engine(), const_cast<float*>(data));
        if (!m_scratch) return user;
        m_convert.execute(cpu_stream(), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, m_scratch}});
        return m_scratch;
    }

private:
    dnnl::memory::desc m_user, m_wanted;
    dnnl::memory m_scratch;
    dnnl::reorder m_convert;
};

struct ForwardPlan {
    explicit ForwardPlan(const ConvShape& s)
        : pd(forward_pd(s)), primitive(pd), weights(pd.weights_desc(), s.o, s.c, s.k),
          src(pd.src_desc(), s.n, s.c, s.h, s.w) {}
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward primitive;
    WeightsAdapter weights;
    ActivationsAdapter src;
};

struct BackwardDataPlan {
    explicit BackwardDataPlan(const ConvShape& s)
        : pd(make(s)), primitive(pd), weights(pd.weights_desc(), s.o, s.c, s.k),
          diff_dst(pd.diff_dst_desc(), s.n, s.o, s.h, s.w) {}
    static dnnl::convolution_backward_data::primitive_desc make(const ConvShape& s) {
        using namespace dnnl;
        ConvShape fs = s;
        fs.training = true;
        auto hint = forward_pd(fs);
        auto desc = convolution_backward_data::desc(
            algorithm::convolution_direct, activations(s.n, s.c, s.h, s.w), any_weights(s.o, s.c, s.k, operand_type(s)),
            activations(s.n, s.o, s.h, s.w, operand_type(s)), {1, 1}, padding(s.k), padding(s.k));
        return convolution_backward_data::primitive_desc(desc, cpu_engine(), hint);
    }
    dnnl::convolution_backward_data::primitive_desc pd;
    dnnl::convolution_backward_data primitive;
    WeightsAdapter weights;
    ActivationsAdapter diff_dst;
};

struct BackwardWeightsPlan {
    explicit BackwardWeightsPlan(const ConvShape& s)
        : pd(make(s)), primitive(pd), weights(pd.diff_weights_desc(), s.o, s.c, s.k),
          src(pd.src_desc(), s.n, s.c, s.h, s.w), diff_dst(pd.diff_dst_desc(), s.n, s.o, s.h, s.w) {}
    static dnnl::convolution_backward_weights::primitive_desc make(const ConvShape& s) {
        using namespace dnnl;
        ConvShape fs = s;
        fs.training = true;
        auto hint = forward_pd(fs);
        auto desc = convolution_backward_weights::desc(
            algorithm::convolution_direct, activations(s.n, s.c, s.h, s.w, operand_type(s)), any_weights(s.o, s.c, s.k),
            s.has_bias ? bias_desc(s.o) : memory::desc(), activations(s.n, s.o, s.h, s.w, operand_type(s)), {1, 1},
            padding(s.k), padding(s.k));
        return convolution_backward_weights::primitive_desc(desc, cpu_engine(), hint);
    }
    dnnl::convolution_backward_weights::primitive_desc pd;
    dnnl::convolution_backward_weights primitive;
    WeightsAdapter weights;
    ActivationsAdapter src, diff_dst;
};

// A residual chain (sr/ops/residual_chain.hpp) run as one sequence of primitives: x is converted
// to the operand type once, every intermediate stays in that type (bf16 under bf16: half the
// memory traffic of float, and no reorder before the next convolution), and the last convolution
// adds res_scale * its output to a copy of x through post-ops (eltwise_linear, sum), which keeps
// oneDNN's brgconv kernels (a binary-add post-op with x as operand drops to slower jit kernels).
struct ChainPlan {
    struct Step {
        Step(const ConvShape& s, const dnnl::primitive_attr& attr, const dnnl::memory::desc& dst)
            : pd(make(s, attr, dst)), primitive(pd), weights(pd.weights_desc(), s.o, s.c, s.k) {}
        static dnnl::convolution_forward::primitive_desc make(const ConvShape& s, const dnnl::primitive_attr& attr,
                                                              const dnnl::memory::desc& dst) {
            using namespace dnnl;
            auto desc = convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct,
                                                  activations(s.n, s.c, s.h, s.w, operand_type(s)),
                                                  any_weights(s.o, s.c, s.k, operand_type(s)),
                                                  s.has_bias ? bias_desc(s.o) : memory::desc(), dst, {1, 1},
                                                  padding(s.k), padding(s.k));
            return convolution_forward::primitive_desc(desc, attr, cpu_engine());
        }
        dnnl::convolution_forward::primitive_desc pd;
        dnnl::convolution_forward primitive;
        WeightsAdapter weights;
        dnnl::memory output;  // intermediate (all steps but the last)
    };

    explicit ChainPlan(const ChainShape& chain) {
        using namespace dnnl;
        auto& engine = cpu_engine();
        for (std::size_t i = 0; i < chain.links.size(); ++i) {
            const auto& link = chain.links[i];
            const bool last = i + 1 == chain.links.size();
            ConvShape s;
            s.n = chain.n, s.h = chain.h, s.w = chain.w, s.c = link.c, s.o = link.o, s.k = link.k;
            s.has_bias = link.has_bias, s.bf16 = chain.bf16;
            post_ops ops;
            if (link.relu) ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
            if (last && chain.res_scale != 1.f) ops.append_eltwise(1.f, algorithm::eltwise_linear, chain.res_scale, 0.f);
            if (last) ops.append_sum(1.f);
            primitive_attr attr;
            attr.set_post_ops(ops);
            const auto dst = activations(s.n, s.o, s.h, s.w, last ? dt::f32 : operand_type(s));
            steps.push_back(std::make_unique<Step>(s, attr, dst));
            if (!last) steps.back()->output = memory(dst, engine);
        }
        const auto& first = chain.links.front();
        src.emplace(steps.front()->pd.src_desc(), chain.n, first.c, chain.h, chain.w);
        const auto residual = activations(chain.n, chain.links.back().o, chain.h, chain.w);
        copy_residual = reorder(reorder::primitive_desc(engine, residual, engine, residual));
    }
    std::vector<std::unique_ptr<Step>> steps;
    std::optional<ActivationsAdapter> src;
    dnnl::reorder copy_residual;
};

template <class Plan, class Shape, class Hash>
Plan& cached_plan_for(const Shape& shape, const char* what) {
    thread_local std::unordered_map<Shape, std::unique_ptr<Plan>, Hash> cache;
    auto it = cache.find(shape);
    if (it == cache.end()) {
        try {
            it = cache.emplace(shape, std::make_unique<Plan>(shape)).first;
        } catch (const dnnl::error& e) {
            fail("conv2d: oneDNN cannot create ", what, ": ", e.what());
        }
    }
    return *it->second;
}

template <class Plan>
Plan& cached_plan(const ConvShape& shape) {
    thread_local std::unordered_map<ConvShape, std::unique_ptr<Plan>, ConvShapeHash> cache;
    auto it = cache.find(shape);
    if (it == cache.end()) {
        try {
            it = cache.emplace(shape, std::make_unique<Plan>(shape)).first;
        } catch (const dnnl::error& e) {
            fail("conv2d: oneDNN cannot create a ", shape.bf16 ? "bf16" : "fp32", " primitive for N=", shape.n,
                 " H=", shape.h, " W=", shape.w, " C=", shape.c, " O=", shape.o, " k=", shape.k, ": ", e.what());
        }
    }
    return *it->second;
}
}  // namespace detail

// y = conv(x, w) + b [+ y if shape.accumulate], then ReLU if shape.relu. Pointers: x NHWC [n,h,w,c],
// w OHWI [o,k,k,c], b [o] or null, y NHWC [n,h,w,o].
inline void conv2d_forward(const ConvShape& shape, const float* x, const float* w, const float* b, float* y) {
    auto& plan = detail::cached_plan<detail::ForwardPlan>(shape);
    auto& engine = cpu_engine();
    dnnl::memory dst(plan.pd.dst_desc(), engine, y);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, plan.src.to_wanted(x)},
                                               {DNNL_ARG_WEIGHTS, plan.weights.to_wanted(w)}, {DNNL_ARG_DST, dst}};
    if (shape.has_bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(detail::bias_desc(shape.o), engine, const_cast<float*>(b)));
    plan.primitive.execute(cpu_stream(), args);
    cpu_stream().wait();
}

// grad_x = conv_transpose(grad_y, w): the gradient of the input. grad_x is overwritten.
inline void conv2d_backward_data(const ConvShape& shape, const float* grad_y, const float* w, float* grad_x) {
    auto& plan = detail::cached_plan<detail::BackwardDataPlan>(shape);
    auto& engine = cpu_engine();
    dnnl::memory diff_src(plan.pd.diff_src_desc(), engine, grad_x);
    plan.primitive.execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, plan.diff_dst.to_wanted(grad_y)},
                                          {DNNL_ARG_WEIGHTS, plan.weights.to_wanted(w)},
                                          {DNNL_ARG_DIFF_SRC, diff_src}});
    cpu_stream().wait();
}

// grad_w (OHWI) and grad_b ([o], when the shape has a bias) from x and grad_y; both overwritten.
inline void conv2d_backward_weights(const ConvShape& shape, const float* x, const float* grad_y, float* grad_w,
                                    float* grad_b) {
    auto& plan = detail::cached_plan<detail::BackwardWeightsPlan>(shape);
    auto& engine = cpu_engine();
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, plan.src.to_wanted(x)},
                                               {DNNL_ARG_DIFF_DST, plan.diff_dst.to_wanted(grad_y)},
                                               {DNNL_ARG_DIFF_WEIGHTS, plan.weights.output_for(grad_w)}};
    if (shape.has_bias) args.emplace(DNNL_ARG_DIFF_BIAS, dnnl::memory(detail::bias_desc(shape.o), engine, grad_b));
    plan.primitive.execute(cpu_stream(), args);
    plan.weights.finish();
    cpu_stream().wait();
}

// Both backward passes of one convolution from a single operand copy of grad_y: under bf16 the
// float-to-bf16 conversion of the output gradient is the largest operand conversion of a
// training step, and run per pass it happened twice. grad_x null: the input gradient is skipped;
// grad_w null: the weight (and bias) gradients are skipped. Shapes as in the two functions above.
inline void conv2d_backward_both(const ConvShape& shape, const float* x, const float* grad_y, const float* w,
                                 float* grad_x, float* grad_w, float* grad_b) {
    auto& engine = cpu_engine();
    std::optional<dnnl::memory> diff_dst;
    if (grad_x) {
        ConvShape data_shape = shape;
        data_shape.has_bias = false;
        auto& plan = detail::cached_plan<detail::BackwardDataPlan>(data_shape);
        diff_dst = plan.diff_dst.to_wanted(grad_y);
        dnnl::memory diff_src(plan.pd.diff_src_desc(), engine, grad_x);
        plan.primitive.execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, *diff_dst},
                                              {DNNL_ARG_WEIGHTS, plan.weights.to_wanted(w)},
                                              {DNNL_ARG_DIFF_SRC, diff_src}});
    }
    if (grad_w) {
        auto& plan = detail::cached_plan<detail::BackwardWeightsPlan>(shape);
        // The data plan's copy serves when both primitives read the same layout (NHWC bf16 or f32).
        const bool reuse = diff_dst && diff_dst->get_desc() == plan.pd.diff_dst_desc();
        std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, plan.src.to_wanted(x)},
                                                   {DNNL_ARG_DIFF_DST, reuse ? *diff_dst : plan.diff_dst.to_wanted(grad_y)},
                                                   {DNNL_ARG_DIFF_WEIGHTS, plan.weights.output_for(grad_w)}};
        if (shape.has_bias) args.emplace(DNNL_ARG_DIFF_BIAS, dnnl::memory(detail::bias_desc(shape.o), engine, grad_b));
        plan.primitive.execute(cpu_stream(), args);
        plan.weights.finish();
    }
    cpu_stream().wait();
}

// y = x + res_scale * chain(x) for a ChainShape (see there); x and y NHWC, float, distinct buffers;
// weights[i] OHWI and biases[i] (null without bias) per link.
inline void conv2d_chain_residual(const ChainShape& shape, const float* x, const std::vector<const float*>& weights,
                                  const std::vector<const float*>& biases, float* y) {
    SR_CHECK(!shape.links.empty() && weights.size() == shape.links.size() && biases.size() == shape.links.size(),
             "conv2d chain: ", shape.links.size(), " links but ", weights.size(), " weights and ", biases.size(), " biases");
    for (std::size_t i = 0; i + 1 < shape.links.size(); ++i)
        SR_CHECK(shape.links[i].o == shape.links[i + 1].c, "conv2d chain: link ", i, " outputs ", shape.links[i].o,
                 " channels but link ", i + 1, " takes ", shape.links[i + 1].c);
    SR_CHECK(shape.links.back().o == shape.links.front().c, "conv2d chain: the residual add needs as many outputs (",
             shape.links.back().o, ") as inputs (", shape.links.front().c, ")");
    auto& plan = detail::cached_plan_for<detail::ChainPlan, ChainShape, ChainShapeHash>(shape, "a convolution chain");
    auto& engine = cpu_engine();
    auto& stream = cpu_stream();
    const auto residual = detail::activations(shape.n, shape.links.back().o, shape.h, shape.w);
    dnnl::memory dst(residual, engine, y);
    plan.copy_residual.execute(stream, {{DNNL_ARG_FROM, dnnl::memory(residual, engine, const_cast<float*>(x))},
                                        {DNNL_ARG_TO, dst}});
    dnnl::memory input = plan.src->to_wanted(x);
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
        auto& step = *plan.steps[i];
        const bool last = i + 1 == plan.steps.size();
        std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, input}, {DNNL_ARG_WEIGHTS, step.weights.to_wanted(weights[i])},
                                                   {DNNL_ARG_DST, last ? dst : step.output}};
        if (shape.links[i].has_bias)
            args.emplace(DNNL_ARG_BIAS, dnnl::memory(detail::bias_desc(shape.links[i].o), engine, const_cast<float*>(biases[i])));
        step.primitive.execute(stream, args);
        input = step.output;
    }
    stream.wait();
}

}  // namespace sr::ops::onednn
