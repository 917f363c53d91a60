#pragma once
// The open model registry: every architecture the engine can build from a name, the built-in
// EDSR, WDSR-A and WDSR-B and an application's own, registered the same way:
//
//   sr::models::register_model<MyNet>({.name = "my-net",
//                                      .schema = {{"num_filters", "32"}, {"reduction", "16"}}});
//
// An entry is a name, a config schema (the keys its ModelConfig is read from and written to in a
// model file's metadata, sr/models/model_file.hpp) and a factory per scalar type and device
// (MyNet<float, Cpu>, MyNet<float, Cuda> when CUDA is built, more on request). AnyModel, the
// Trainer, the Upscaler, model files and the tools build models through it, so a registered model
// trains, tiles, saves and evaluates like the built-in ones. Registering checks the Model concept
// (sr/models/model_concept.hpp) with a readable error. Registration is meant for program start
// (main, or a static initialiser); lookups and registrations are serialised by a mutex.
#include <any>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <typeindex>
#include <vector>

#include "sr/config.hpp"
#include "sr/models/edsr.hpp"
#include "sr/models/erased_model.hpp"
#include "sr/models/wdsr.hpp"

namespace sr::models {

// One key of an architecture's config schema. Keys named like a ModelConfig field (num_filters,
// num_blocks, expansion, res_scale, low_rank_ratio) are that field; any other key is an entry of
// ModelConfig::options. A key without default must be in a model file's metadata.
struct ConfigKey {
    std::string name;
    std::optional<std::string> default_value;
    std::string help;
};

struct ModelInfo {
    std::string name;         // the `arch` of model files, ModelConfig::architecture
    std::string description;  // one line, for listings
    std::vector<ConfigKey> schema;
    std::map<std::string, std::string> fixed_metadata;  // written to every model file of it, never read
    std::function<void(const ModelConfig&)> validate;   // the architecture's own checks (optional)
    // The fewest weights a network of this config has (optional): load_model refuses metadata
    // describing more than the file's tensors can hold before building anything.
    std::function<double(const ModelConfig&)> least_weights;
};

template <class T, class D>
using ModelFactory = std::function<std::shared_ptr<const ModelInterface<T, D>>(const ModelConfig&, Rng&)>;

class ModelRegistry {
public:
    // The process's registry, holding the built-in architectures from first use.
    static ModelRegistry& instance();

    // Registers architecture M<T, D> for float on the CPU (and on CUDA when built) plus the extra
    // CPU scalar types listed; an error if the name is taken.
    template <template <class, class> class M, class... ExtraCpuScalars>
    void add(ModelInfo info) {
        static_assert(check_model<M<float, Cpu>>(), "sr::models::register_model: see the message above");
        std::lock_guard lock(m_mutex);
        SR_CHECK(!info.name.empty(), "register_model: an architecture needs a name");
        SR_CHECK(!m_entries.count(info.name), "register_model: an architecture named '", info.name,
                 "' is already registered");
        Entry entry;
        entry.info = std::move(info);
        add_factory<M, float, Cpu>(entry);
#if SR_WITH_CUDA
        add_factory<M, float, Cuda>(entry);
#endif
        (add_factory<M, ExtraCpuScalars, Cpu>(entry), ...);
        m_entries.emplace(entry.info.name, std::move(entry));
    }

    bool contains(const Architecture& architecture) const {
        std::lock_guard lock(m_mutex);
        return m_entries.count(architecture.name()) > 0;
    }

    // The entry of `architecture`; an error listing the registered names when it is unknown.
    const ModelInfo& info(const Architecture& architecture) const {
        std::lock_guard lock(m_mutex);
        return find(architecture).info;
    }

    std::vector<std::string> names() const {
        std::lock_guard lock(m_mutex);
        std::vector<std::string> list;
        for (const auto& [name, entry] : m_entries) list.push_back(name);
        return list;
    }

    // Builds the network `config` describes, as M<T, D> behind the erased interface.
    // Options the config lacks take their schema defaults.
    template <class T, class D>
    std::shared_ptr<const ModelInterface<T, D>> build(const ModelConfig& config, Rng& rng) const {
        ModelFactory<T, D> factory;
        ModelConfig complete = config;
        {
            std::lock_guard lock(m_mutex);
            const Entry& entry = find(config.architecture);
            for (const ConfigKey& key : entry.info.schema)
                if (key.default_value && !is_config_field(key.name) && !complete.options.count(key.name))
                    complete.options[key.name] = *key.default_value;
            const auto it = entry.factories.find(std::type_index(typeid(ModelFactory<T, D>)));
            SR_CHECK(it != entry.factories.end(), "model registry: '", config.architecture.name(),
                     "' is not registered for this scalar type and device (register_model<M, ExtraCpuScalars...> "
                     "lists CPU types beyond float)");
            factory = std::any_cast<ModelFactory<T, D>>(it->second);
        }
        return factory(complete, rng);
    }

    // True for the schema keys that are ModelConfig fields rather than options.
    static bool is_config_field(const std::string& key) {
        return key == "num_filters" || key == "num_blocks" || key == "expansion" || key == "res_scale" ||
               key == "low_rank_ratio";
    }

private:
    struct Entry {
        ModelInfo info;
        std::map<std::type_index, std::any> factories;  // ModelFactory<T, D> by its type
    };

    ModelRegistry() = default;

    template <template <class, class> class M, class T, class D>
    static void add_factory(Entry& entry) {
        ModelFactory<T, D> factory = [](const ModelConfig& config, Rng& rng) {
            return std::make_shared<const ModelHolder<M<T, D>>>(M<T, D>(config, rng));
        };
        entry.factories[std::type_index(typeid(ModelFactory<T, D>))] = std::move(factory);
    }

    const Entry& find(const Architecture& architecture) const {
        const auto it = m_entries.find(architecture.name());
        if (it != m_entries.end()) return it->second;
        std::string known;
        for (const auto& [name, entry] : m_entries) known += (known.empty() ? "" : ", ") + name;
        fail("unknown architecture '", architecture.name(), "' (registered: ", known,
             "; a program using its own model registers it with sr::models::register_model)");
    }

    mutable std::mutex m_mutex;
    std::map<std::string, Entry> m_entries;
};

// Registers an application's architecture (see ModelRegistry::add).
template <template <class, class> class M, class... ExtraCpuScalars>
void register_model(ModelInfo info) {
    ModelRegistry::instance().add<M, ExtraCpuScalars...>(std::move(info));
}

inline const ModelInfo& model_info(const Architecture& architecture) {
    return ModelRegistry::instance().info(architecture);
}

// The config's own checks: the shared ones and its architecture's (the architecture must be
// registered).
inline void validate_config(const ModelConfig& config) {
    const ModelInfo& info = model_info(config.architecture);
    config.validate();
    if (info.validate) info.validate(config);
}

// The receptive radius of the network `config` describes (sr/models/model_concept.hpp), for any
// registered architecture: the built-ins' by formula, others' from the model built on the CPU.
inline int64_t receptive_radius(const ModelConfig& config) {
    if (is_builtin(config.architecture)) return builtin_receptive_radius(config);
    Rng rng(0);
    return ModelRegistry::instance().build<float, Cpu>(config, rng)->receptive_radius();
}

namespace detail {

// The built-ins' schema: the keys sr model files have always carried, with the defaults older
// files relied on (expansion, res_scale and low_rank_ratio were added later).
inline std::vector<ConfigKey> builtin_schema() {
    return {{"num_filters", std::nullopt, "channels of the residual trunk"},
            {"num_blocks", std::nullopt, "residual blocks"},
            {"expansion", "4", "WDSR: block width r*F"},
            {"res_scale", "1", "residual scaling before the add"},
            {"low_rank_ratio", "0.8", "WDSR-B: the linear 1x1 reduces to int(ratio * F) channels"}};
}

// Every parameter has at least the head's 27 F weights and F^2 per residual block (EDSR 18 F^2,
// WDSR-A 18 r F^2, WDSR-B's 1x1 expansion alone r F^2).
inline double builtin_least_weights(const ModelConfig& c) {
    return double(c.num_blocks) * double(c.num_filters) * double(c.num_filters) + 27.0 * double(c.num_filters);
}

inline void add_builtin_models(ModelRegistry& registry) {
    // double on the CPU too: the tests' finite-difference and receptive-field checks use it.
    registry.add<Edsr, double>({.name = "edsr",
                                .description = "EDSR (Lim et al. 2017), plain convolutions",
                                .schema = builtin_schema(),
                                .fixed_metadata = {{"weight_norm", "false"}},
                                .validate = {},
                                .least_weights = builtin_least_weights});
    registry.add<WdsrA, double>({.name = "wdsr-a",
                                 .description = "WDSR-A (Yu et al. 2018), wide 3x3 blocks, weight norm",
                                 .schema = builtin_schema(),
                                 .fixed_metadata = {{"weight_norm", "true"}},
                                 .validate = {},
                                 .least_weights = builtin_least_weights});
    registry.add<WdsrB, double>({.name = "wdsr-b",
                                 .description = "WDSR-B (Yu et al. 2018), wide 1x1 and low-rank blocks, weight norm",
                                 .schema = builtin_schema(),
                                 .fixed_metadata = {{"weight_norm", "true"}},
                                 .validate = {},
                                 .least_weights = builtin_least_weights});
}

}  // namespace detail

inline ModelRegistry& ModelRegistry::instance() {
    static ModelRegistry* registry = [] {
        auto* r = new ModelRegistry;  // never destroyed: models may be built during static destruction
        detail::add_builtin_models(*r);
        return r;
    }();
    return *registry;
}

}  // namespace sr::models
