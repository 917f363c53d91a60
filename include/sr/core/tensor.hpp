#pragma once
// Tensor<T, D>: a shared handle to an n-dimensional array of T on device D (Cpu or Cuda).
//
// Layout conventions: activations are NHWC, convolution weights OHWI ([out, kh, kw, in]), biases
// [out], scalars rank 0. Copying a Tensor copies the handle (both refer to the same data, like a
// PyTorch tensor); clone() copies the data. Views (slice_batch, crop, reshape) share the storage.
//
// Autograd state lives in the same handle: requires_grad, grad() and the node that produced the
// tensor (grad_fn). See sr/autograd/ for how ops record themselves and how backward() runs.
//
// Tensor<T, Cuda> lives on the device that was current when it was allocated (device_index());
// its operations enqueue work on that device's compute stream (sr/cuda/memory.hpp) and must run
// while that device is current. Reading values on the host (item, to<Cpu>, to_vector) waits.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "sr/autograd/grad_mode.hpp"
#include "sr/core/device.hpp"
#include "sr/core/error.hpp"
#include "sr/core/shape.hpp"
#include "sr/core/storage.hpp"
#include "sr/core/strided_index.hpp"
#include "sr/cuda/copy.hpp"

namespace sr {

namespace autograd {
template <class T, class D>
class Node;
}

template <class T, class D>
struct TensorImpl {
    std::shared_ptr<Storage<T, D>> storage;
    int64_t offset = 0;  // in elements, from the start of storage
    Shape shape;
    std::array<int64_t, k_max_rank> strides{};  // in elements

    bool requires_grad = false;
    std::shared_ptr<autograd::Node<T, D>> grad_fn;  // null for leaves and for tensors made without grad
    std::shared_ptr<TensorImpl> grad;               // accumulated dL/d(this); same shape, contiguous
};

template <class T, class D = Cpu>
class Tensor {
    static_assert(std::is_floating_point_v<T> || std::is_integral_v<T>, "Tensor holds arithmetic types");

public:
    using value_type = T;
    using device_type = D;
    using Impl = TensorImpl<T, D>;

    // An undefined tensor (no storage): used for "no bias", "no gradient yet".
    Tensor() = default;
    explicit Tensor(std::shared_ptr<Impl> impl) : m_impl(std::move(impl)) {}

    // Uninitialised contiguous tensor (on the current device for Cuda).
    static Tensor empty(const Shape& shape) {
        auto impl = std::make_shared<Impl>();
        impl->storage = std::make_shared<Storage<T, D>>(shape.numel());
        impl->shape = shape;
        impl->strides = contiguous_strides(shape);
        return Tensor(std::move(impl));
    }
    static Tensor zeros(const Shape& shape) {
        Tensor t = empty(shape);
        t.fill_zero_();
        return t;
    }
    static Tensor full(const Shape& shape, T value) {
        Tensor t = empty(shape);
        t.fill_(value);
        return t;
    }
    // Copies values (row-major order) into a new tensor (uploaded for Cuda).
    static Tensor from_vector(const Shape& shape, const std::vector<T>& values) {
        SR_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector: shape ", shape,
                 " needs ", shape.numel(), " values, got ", values.size());
        if constexpr (is_cuda_v<D>) {
            return Tensor<T, Cpu>::from_vector(shape, values).template to<D>();
        } else {
            Tensor t = empty(shape);
            std::copy(values.begin(), values.end(), t.data());
            return t;
        }
    }

    // Device memory adopted from cuda::PinnedUpload::upload or cuda::device_malloc: `shape.numel()`
    // elements at `device_data` on CUDA device `device`, freed when the last handle goes.
    static Tensor adopt_device_memory(const Shape& shape, T* device_data, int device) {
        static_assert(is_cuda_v<D>, "Tensor::adopt_device_memory is for Cuda tensors");
        auto impl = std::make_shared<Impl>();
        impl->storage = std::make_shared<Storage<T, D>>(device_data, shape.numel(), device);
        impl->shape = shape;
        impl->strides = contiguous_strides(shape);
        return Tensor(std::move(impl));
    }

    bool defined() const { return static_cast<bool>(m_impl); }
    explicit operator bool() const { return defined(); }
    const Shape& shape() const { return impl().shape; }
    int rank() const { return impl().shape.rank(); }
    int64_t dim(int i) const { return impl().shape[i]; }
    int64_t numel() const { return impl().shape.numel(); }
    int64_t stride(int i) const { return impl().strides[i < 0 ? i + rank() : i]; }
    // The CUDA device index the data lives on; -1 for CPU tensors.
    int device_index() const { return impl().storage ? impl().storage->device() : -1; }
    bool is_contiguous() const {
        auto expected = contiguous_strides(shape());
        for (int i = 0; i < rank(); ++i)
            if (shape()[i] != 1 && impl().strides[i] != expected[i]) return false;
        return true;
    }

    // Pointer to the first element (the view's offset applied). Device pointer for Cuda tensors.
    T* data() const { return impl().storage ? impl().storage->data() + impl().offset : nullptr; }

    // Element access by NHWC-style coordinates; CPU only, for tests and small loops.
    T& at(std::initializer_list<int64_t> index) const {
        static_assert(is_cpu_v<D>, "Tensor::at is CPU-only");
        SR_CHECK(static_cast<int>(index.size()) == rank(), "Tensor::at: ", index.size(),
                 " indices for a tensor of shape ", shape());
        int64_t offset = 0;
        int i = 0;
        for (int64_t idx : index) {
            SR_CHECK(idx >= 0 && idx < shape()[i], "Tensor::at: index ", idx, " out of range for dimension ",
                     i, " of shape ", shape());
            offset += idx * impl().strides[i++];
        }
        return data()[offset];
    }
    // The single value of a one-element tensor (copied to the host if needed).
    T item() const {
        SR_CHECK(numel() == 1, "Tensor::item: tensor of shape ", shape(), " has ", numel(), " elements, not 1");
        if constexpr (is_cpu_v<D>) {
            return data()[0];
        } else {
            cuda::DeviceGuard guard(device_index());
            T value;
            cuda::copy_device_to_host(&value, data(), sizeof(T));
            return value;
        }
    }
    // Copy of the values in row-major order on the host.
    std::vector<T> to_vector() const {
        Tensor<T, Cpu> c = contiguous().template to<Cpu>();
        return std::vector<T>(c.data(), c.data() + c.numel());
    }

    // ---- views and copies (views are not differentiable: they share data, not the graph) ----
    // slice_batch and crop refuse a tensor that requires a gradient while ops record (outside a
    // NoGradGuard): the view would silently cut the graph, and the gradient would never reach it.

    // Batch items [begin, end) of a tensor whose first dimension is the batch.
    Tensor slice_batch(int64_t begin, int64_t end) const {
        check_view_keeps_graph("slice_batch");
        SR_CHECK(rank() >= 1 && begin >= 0 && begin <= end && end <= dim(0), "slice_batch: range [", begin, ", ",
                 end, ") is outside the batch of shape ", shape());
        auto view = view_impl();
        view->offset += begin * impl().strides[0];
        view->shape[0] = end - begin;
        return Tensor(std::move(view));
    }
    // Spatial window [top, top+height) x [left, left+width) of an NHWC tensor; not contiguous
    // unless it spans the full width.
    Tensor crop(int64_t top, int64_t left, int64_t height, int64_t width) const {
        check_view_keeps_graph("crop");
        SR_CHECK(rank() == 4, "crop: expects an NHWC tensor, got shape ", shape());
        SR_CHECK(top >= 0 && left >= 0 && height >= 0 && width >= 0 && top + height <= dim(1) &&
                     left + width <= dim(2),
                 "crop: window (top ", top, ", left ", left, ", ", height, "x", width, ") is outside shape ", shape());
        auto view = view_impl();
        view->offset += top * impl().strides[1] + left * impl().strides[2];
        view->shape[1] = height;
        view->shape[2] = width;
        return Tensor(std::move(view));
    }
    void check_view_keeps_graph(const char* op) const {
        SR_CHECK(!(requires_grad() && grad_enabled()), op, ": a view of a tensor of shape ", shape(),
                 " that requires a gradient would cut the autograd graph (views are not recorded); take it "
                 "under NoGradGuard, or compute on the whole tensor");
    }
    // Same data with a new shape of equal element count; the tensor must be contiguous.
    Tensor reshape(const Shape& new_shape) const {
        SR_CHECK(new_shape.numel() == numel(), "reshape: cannot view shape ", shape(), " (", numel(),
                 " elements) as ", new_shape);
        SR_CHECK(is_contiguous(), "reshape: tensor of shape ", shape(), " is not contiguous; call contiguous()");
        auto view = view_impl();
        view->shape = new_shape;
        view->strides = contiguous_strides(new_shape);
        return Tensor(std::move(view));
    }
    // A contiguous tensor with the same values: *this when already contiguous, else a copy.
    Tensor contiguous() const {
        if (is_contiguous()) return *this;
        return clone();
    }
    // A new contiguous tensor with a copy of the values; not attached to the graph.
    Tensor clone() const {
        Tensor out = empty(shape());
        copy_to(out);
        return out;
    }
    // Copies the values of *this into dst (same shape, dst contiguous or not).
    void copy_to(const Tensor& dst) const {
        SR_CHECK(dst.shape() == shape(), "copy_to: shape ", shape(), " into shape ", dst.shape());
        if (is_contiguous() && dst.is_contiguous()) {
            copy_bytes_same_device(dst.data(), data(), numel());
            return;
        }
        if constexpr (is_cpu_v<D>) {
            strided_copy(dst);
        } else {
            if (numel() == 0) return;
            SR_CHECK(device_index() == dst.device_index(), "copy_to: source on cuda:", device_index(),
                     ", destination on cuda:", dst.device_index(), " (shape ", shape(), ")");
            StridedLayout layout;
            layout.rank = rank();
            for (int i = 0; i < rank(); ++i) {
                layout.shape[i] = shape()[i];
                layout.src_strides[i] = impl().strides[i];
                layout.dst_strides[i] = dst.impl().strides[i];
            }
            cuda::strided_copy(data(), dst.data(), sizeof(T), layout);
        }
    }
    // Copy to another device (or the same device: a clone).
    template <class D2>
    Tensor<T, D2> to() const {
        if constexpr (std::is_same_v<D, D2>) {
            return clone();
        } else if constexpr (is_cuda_v<D>) {
            cuda::DeviceGuard guard(device_index());  // ordered on the stream of the device that wrote the data
            Tensor src = contiguous();
            auto out = Tensor<T, D2>::empty(shape());
            const std::size_t bytes = static_cast<std::size_t>(numel()) * sizeof(T);
            cuda::copy_device_to_host(out.data(), src.data(), bytes);
            return out;
        } else {
            Tensor src = contiguous();
            auto out = Tensor<T, D2>::empty(shape());
            const std::size_t bytes = static_cast<std::size_t>(numel()) * sizeof(T);
            cuda::copy_host_to_device(out.data(), src.data(), bytes);
            return out;
        }
    }
    // Elementwise conversion to another scalar type (static_cast per element), on the same device.
    // CUDA converts float <-> double, uint8 <-> float and int32 <-> float (sr/cuda/copy.hpp).
    template <class U>
    Tensor<U, D> cast() const {
        if constexpr (std::is_same_v<T, U>) {
            return clone();
        } else {
            Tensor src = contiguous();
            auto out = Tensor<U, D>::empty(shape());
            if (numel() == 0) return out;
            if constexpr (is_cuda_v<D>) {
                cuda::cast(src.data(), out.data(), numel());
            } else {
                const T* s = src.data();
                U* o = out.data();
                for (int64_t i = 0; i < numel(); ++i) o[i] = static_cast<U>(s[i]);
            }
            return out;
        }
    }

    // In-place fills (no graph recording; use on leaves or outside autograd).
    const Tensor& fill_zero_() const {
        SR_CHECK(is_contiguous(), "fill_zero_: tensor of shape ", shape(), " is not contiguous");
        std::size_t bytes = static_cast<std::size_t>(numel()) * sizeof(T);
        if (bytes == 0) return *this;
        if constexpr (is_cpu_v<D>)
            std::memset(data(), 0, bytes);
        else
            cuda::fill_zero(data(), bytes);
        return *this;
    }
    const Tensor& fill_(T value) const {
        SR_CHECK(is_contiguous(), "fill_: tensor of shape ", shape(), " is not contiguous");
        if (numel() == 0) return *this;
        if constexpr (is_cpu_v<D>)
            std::fill_n(data(), numel(), value);
        else
            cuda::fill(data(), numel(), value);
        return *this;
    }

    // ---- autograd state ----
    bool requires_grad() const { return defined() && impl().requires_grad; }
    // Marks a leaf (parameter or input) whose gradient backward() should accumulate.
    const Tensor& set_requires_grad(bool flag) const {
        SR_CHECK(!impl().grad_fn || flag, "set_requires_grad(false) on a tensor produced by a recorded op; use detach()");
        impl().requires_grad = flag;
        return *this;
    }
    bool is_leaf() const { return !impl().grad_fn; }
    // dL/d(this) after backward(); undefined until a gradient was accumulated.
    Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
    void zero_grad() const { impl().grad.reset(); }
    // Adds g to the accumulated gradient (allocating it on first use). g must have this shape.
    void accumulate_grad(const Tensor& g) const;
    // Same data, cut from the graph (a new leaf that does not require grad).
    Tensor detach() const {
        auto view = view_impl();
        return Tensor(std::move(view));
    }
    const std::shared_ptr<autograd::Node<T, D>>& grad_fn() const { return impl().grad_fn; }
    // Runs reverse-mode autodiff from this scalar (defined in sr/autograd/backward.hpp).
    void backward(bool retain_graph = false) const;

    Impl& impl() const {
        SR_CHECK(m_impl, "operation on an undefined tensor");
        return *m_impl;
    }
    const std::shared_ptr<Impl>& impl_ptr() const { return m_impl; }
    bool same_as(const Tensor& other) const { return m_impl == other.m_impl; }

private:
    std::shared_ptr<Impl> view_impl() const {
        auto view = std::make_shared<Impl>();
        view->storage = impl().storage;
        view->offset = impl().offset;
        view->shape = impl().shape;
        view->strides = impl().strides;
        return view;
    }
    static void copy_bytes_same_device(T* dst, const T* src, int64_t count) {
        std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
        if (bytes == 0 || dst == src) return;
        if constexpr (is_cpu_v<D>)
            std::memcpy(dst, src, bytes);
        else
            cuda::copy_device_to_device(dst, src, bytes);
    }
    // Generic strided copy: walks the index space, innermost dimension contiguous-copied when possible.
    void strided_copy(const Tensor& dst) const {
        const int r = rank();
        if (r == 0) {
            dst.data()[0] = data()[0];
            return;
        }
        const int64_t inner = shape()[r - 1];
        const int64_t src_inner_stride = impl().strides[r - 1];
        const int64_t dst_inner_stride = dst.impl().strides[r - 1];
        const int64_t outer = inner == 0 ? 0 : numel() / inner;
        std::array<int64_t, k_max_rank> index{};
        for (int64_t o = 0; o < outer; ++o) {
            int64_t src_off = 0, dst_off = 0;
            for (int i = 0; i < r - 1; ++i) {
                src_off += index[i] * impl().strides[i];
                dst_off += index[i] * dst.impl().strides[i];
            }
            const T* s = data() + src_off;
            T* d = dst.data() + dst_off;
            if (src_inner_stride == 1 && dst_inner_stride == 1) {
                std::memcpy(d, s, static_cast<std::size_t>(inner) * sizeof(T));
            } else {
                for (int64_t k = 0; k < inner; ++k) d[k * dst_inner_stride] = s[k * src_inner_stride];
            }
            for (int i = r - 2; i >= 0; --i) {
                if (++index[i] < shape()[i]) break;
                index[i] = 0;
            }
        }
    }

    std::shared_ptr<Impl> m_impl;
};

}  // namespace sr
