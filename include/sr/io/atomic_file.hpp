#pragma once
// Atomic file writes: data goes to a temporary file in the destination's directory, is flushed to
// disk, and only then renamed over the destination. A crash, a full disk or an exception leaves
// either the old file or none, never a half-written one.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>

#include "sr/core/error.hpp"

namespace sr::io {

class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path destination) : m_destination(std::move(destination)) {
        const auto dir = m_destination.has_parent_path() ? m_destination.parent_path() : std::filesystem::path(".");
        SR_CHECK(std::filesystem::is_directory(dir), m_destination.string(), ": cannot write, directory '",
                 dir.string(), "' does not exist");
        std::random_device random;
        m_temporary = dir / ("." + m_destination.filename().string() + ".tmp" + std::to_string(random()));
        m_fd = ::open(m_temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (m_fd < 0) fail(m_destination.string(), ": cannot write: ", std::strerror(errno));
    }
    ~AtomicFile() {
        if (m_fd >= 0) ::close(m_fd);
        if (!m_committed) {
            std::error_code ec;
            std::filesystem::remove(m_temporary, ec);
        }
    }
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t bytes) {
        const char* p = static_cast<const char*>(data);
        while (bytes > 0) {
            const ssize_t n = ::write(m_fd, p, bytes);
            if (n < 0) {
                if (errno == EINTR) continue;
                fail(m_destination.string(), ": write failed: ", std::strerror(errno));
            }
            p += n;
            bytes -= static_cast<std::size_t>(n);
        }
    }
    void write(std::string_view text) { write(text.data(), text.size()); }

    // Flushes to disk and renames over the destination. Without commit() nothing appears.
    void commit() {
        if (::fsync(m_fd) != 0) fail(m_destination.string(), ": flush to disk failed: ", std::strerror(errno));
        if (::close(m_fd) != 0) {
            m_fd = -1;
            fail(m_destination.string(), ": close failed: ", std::strerror(errno));
        }
        m_fd = -1;
        std::error_code ec;
        std::filesystem::rename(m_temporary, m_destination, ec);
        if (ec) fail(m_destination.string(), ": cannot replace the file: ", ec.message());
        m_committed = true;
    }

    const std::filesystem::path& destination() const { return m_destination; }

private:
    std::filesystem::path m_destination, m_temporary;
    int m_fd = -1;
    bool m_committed = false;
};

// Writes bytes to path atomically.
inline void write_file_atomically(const std::filesystem::path& path, const void* data, std::size_t bytes) {
    AtomicFile file(path);
    file.write(data, bytes);
    file.commit();
}

}  // namespace sr::io
