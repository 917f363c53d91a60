#pragma once
// Atomic, durable file writes: data goes to a temporary file in the destination's directory
// (".<name>.tmp<digits>"), is flushed to disk (fsync), renamed over the destination, and the
// directory is flushed too, so the rename itself survives a power cut. A crash, kill -9, a full
// disk or an exception leaves either the old file or the new one, never a half-written one; what
// a crash can leave is a temporary file, which readers never open (dataset listings skip dot
// files) and remove_stale_temporaries() deletes.
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
#include "sr/core/kill_point.hpp"

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

    // Flushes to disk, renames over the destination and flushes the directory. Without commit()
    // nothing appears.
    void commit() {
        if (::fsync(m_fd) != 0) fail(m_destination.string(), ": flush to disk failed: ", std::strerror(errno));
        if (::close(m_fd) != 0) {
            m_fd = -1;
            fail(m_destination.string(), ": close failed: ", std::strerror(errno));
        }
        m_fd = -1;
        testing::kill_point("write:" + m_destination.filename().string());
        std::error_code ec;
        std::filesystem::rename(m_temporary, m_destination, ec);
        if (ec) fail(m_destination.string(), ": cannot replace the file: ", ec.message());
        m_committed = true;
        sync_directory(m_temporary.parent_path(), m_destination);
    }

    const std::filesystem::path& destination() const { return m_destination; }

    // Whether `file` is a temporary file of AtomicFile (".<name>.tmp<digits>").
    static bool is_temporary(const std::filesystem::path& file) {
        const std::string name = file.filename().string();
        const auto tmp = name.rfind(".tmp");
        if (name.size() < 2 || name.front() != '.' || tmp == std::string::npos || tmp == 0 || tmp + 4 == name.size())
            return false;
        return name.find_first_not_of("0123456789", tmp + 4) == std::string::npos;
    }

private:
    // A rename lives in the directory; until the directory is on disk a power cut can undo it.
    static void sync_directory(const std::filesystem::path& dir, const std::filesystem::path& destination) {
        const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) fail(destination.string(), ": cannot open its directory to flush it: ", std::strerror(errno));
        const int result = ::fsync(fd);
        const int error = errno;
        ::close(fd);
        // EINVAL: the file system cannot flush directories (some FUSE and network mounts); the
        // rename is then as durable as that file system makes it.
        if (result != 0 && error != EINVAL)
            fail(destination.string(), ": flushing its directory to disk failed: ", std::strerror(error));
    }

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

// Deletes the temporary files a crashed AtomicFile left in `dir` (not recursive) and returns how
// many; used when a run resumes. Never touches a file of another name.
inline int remove_stale_temporaries(const std::filesystem::path& dir) {
    int removed = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file() || !AtomicFile::is_temporary(entry.path())) continue;
        std::error_code remove_error;
        if (std::filesystem::remove(entry.path(), remove_error)) ++removed;
    }
    return removed;
}

}  // namespace sr::io
