#pragma once
// Whole-file and positioned reads with errors that name the file (ImageError of kind io).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <vector>

#include "sr/io/image_types.hpp"

namespace sr::io {

// An open file descriptor, closed at scope exit.
class FileHandle {
public:
    explicit FileHandle(const std::filesystem::path& path) : m_path(path.string()) {
        // O_NONBLOCK: opening a FIFO named like an image must not wait forever for a writer; it is
        // refused below, as are devices (a regular file ignores the flag).
        m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (m_fd < 0) image_fail(ImageErrorKind::io, m_path, "cannot open: ", std::strerror(errno));
        struct stat st{};
        if (::fstat(m_fd, &st) != 0) {
            const int error = errno;
            ::close(m_fd);
            m_fd = -1;
            image_fail(ImageErrorKind::io, m_path, "cannot stat: ", std::strerror(error));
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
            ::close(m_fd);
            m_fd = -1;
            image_fail(ImageErrorKind::io, m_path, "not a regular file (a FIFO, socket or device)");
        }
    }
    ~FileHandle() {
        if (m_fd >= 0) ::close(m_fd);
    }
    FileHandle(const FileHandle&) = delete;
    FileHandle& operator=(const FileHandle&) = delete;

    int64_t size() const {
        struct stat st{};
        if (::fstat(m_fd, &st) != 0) image_fail(ImageErrorKind::io, m_path, "cannot stat: ", std::strerror(errno));
        if (S_ISDIR(st.st_mode)) image_fail(ImageErrorKind::io, m_path, "is a directory, not a file");
        return static_cast<int64_t>(st.st_size);
    }
    // Reads up to `bytes` bytes at `offset`; returns how many were read (fewer only at end of file).
    std::size_t read_at(void* dst, std::size_t bytes, int64_t offset) const {
        auto* p = static_cast<char*>(dst);
        std::size_t done = 0;
        while (done < bytes) {
            const ssize_t n = ::pread(m_fd, p + done, bytes - done, static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                image_fail(ImageErrorKind::io, m_path, "read failed: ", std::strerror(errno));
            }
            if (n == 0) break;
            done += static_cast<std::size_t>(n);
        }
        return done;
    }
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
    int m_fd = -1;
};

inline std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
    FileHandle file(path);
    const int64_t size = file.size();
    std::vector<uint8_t> bytes(static_cast<std::size_t>(size));
    const std::size_t got = file.read_at(bytes.data(), bytes.size(), 0);
    bytes.resize(got);  // a file that shrank while we read: the decoder reports it as truncated
    return bytes;
}

}  // namespace sr::io
