#pragma once
// Shards: a deterministic split of n ordered items into `count` contiguous, disjoint parts that
// together cover all n; part `index` holds items [n * index / count, n * (index + 1) / count), so
// sizes differ by at most one. Used for --shard K/N of sr-infer and sr-eval (a sorted file list:
// Slurm array tasks or one process per GPU share a folder without talking to each other) and for
// the slots of a global batch each training rank loads (sr/data/batch_loader.hpp).
#include <cstdint>
#include <string>
#include <utility>

#include "sr/core/error.hpp"

namespace sr::dist {

struct Shard {
    int index = 0;  // 0 .. count-1
    int count = 1;
};

// [begin, end) of the items of `shard` among `n`.
inline std::pair<int64_t, int64_t> shard_range(int64_t n, Shard shard) {
    SR_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, "shard ", shard.index, "/", shard.count,
             ": expected 0 <= K < N");
    SR_CHECK(n >= 0, "shard_range: negative item count ", n);
    return {n * shard.index / shard.count, n * (shard.index + 1) / shard.count};
}

// "K/N" with 0 <= K < N (e.g. --shard $SLURM_ARRAY_TASK_ID/8); `option` names the flag in errors.
inline Shard parse_shard(const std::string& text, const std::string& option) {
    const auto slash = text.find('/');
    const auto is_number = [](const std::string& s) {
        return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
    };
    SR_CHECK(slash != std::string::npos && is_number(text.substr(0, slash)) && is_number(text.substr(slash + 1)), option,
             " '", text, "': expected K/N with whole numbers, e.g. 0/4");
    Shard shard{std::stoi(text.substr(0, slash)), std::stoi(text.substr(slash + 1))};
    SR_CHECK(shard.count >= 1 && shard.index < shard.count, option, " '", text, "': K must be in 0..N-1 and N at least 1");
    return shard;
}

}  // namespace sr::dist
