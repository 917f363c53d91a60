// The bad-input corpus (tests/bad_inputs/): every entry of manifest.tsv runs through the real tool
// binaries, and each must end as the manifest says: for a bad input, the expected non-zero exit
// status (never a signal, never a hang), exactly one stderr line carrying the expected text (the
// file's name and the problem), and nothing left in the output folder (no partial output, no
// temporary file); for an odd but valid input, exit 0 and an output of the expected size. Then a
// folder mixing good files with every bad image (the good ones are still written, the exit status
// reports the failures) and a folder in which a file vanishes after it was listed.
// The manifest's format and setup steps are described in tests/bad_inputs/README.md.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sr/io/image.hpp"
#include "test_support.hpp"
#include "train_test_support.hpp"

extern char** environ;

namespace test_bad_inputs {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

namespace fs = std::filesystem;

const fs::path k_corpus = fs::path(SR_SOURCE_DIR) / "tests" / "bad_inputs";
// The valid 4-filter WDSR-B x2 model the fuzz seeds are made from (fuzz/make_seeds.cpp).
const fs::path k_good_model = fs::path(SR_SOURCE_DIR) / "fuzz" / "corpus" / "fuzz_safetensors" / "wdsr-b-8.safetensors";

std::string tool(const std::string& name) { return std::string(SR_TOOLS_DIR) + "/" + name; }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_text(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

std::vector<std::string> split(const std::string& text, const std::string& separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t at = text.find(separator, start);
        parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) return parts;
        start = at + separator.size();
    }
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) text.replace(at, from.size(), to);
}

sr::io::Image noise_image(int h, int w, int channels, int depth = 8, uint64_t seed = 5) {
    sr::io::Image image(h, w, channels, depth);
    sr::Rng rng(seed);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c) image.set(y, x, c, static_cast<int>(rng.below(depth == 8 ? 256 : 65536)));
    return image;
}

// ---- decompression bombs, generated here (the committed corpus stays small) ---------------------

std::string be32(uint32_t v) {
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}
std::string png_chunk(const std::string& type, const std::string& body) {
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(type.data()), static_cast<uInt>(type.size()));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    return be32(static_cast<uint32_t>(body.size())) + type + body + be32(static_cast<uint32_t>(crc));
}
// zlib stream of `bytes` copies of `value`, compressed at level 9 (about 1000:1).
std::string deflate_run(std::size_t bytes, char value) {
    z_stream z{};
    REQUIRE(deflateInit(&z, 9) == Z_OK);
    const std::string block(1 << 20, value);
    std::string out;
    std::vector<unsigned char> buffer(1 << 16);
    for (std::size_t left = bytes;;) {
        const std::size_t n = std::min(left, block.size());
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
        z.avail_in = static_cast<uInt>(n);
        left -= n;
        const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
        int status = Z_OK;
        do {
            z.next_out = buffer.data();
            z.avail_out = static_cast<uInt>(buffer.size());
            status = deflate(&z, flush);
            out.append(reinterpret_cast<char*>(buffer.data()), buffer.size() - z.avail_out);
        } while (z.avail_out == 0);
        if (status == Z_STREAM_END) break;
    }
    deflateEnd(&z);
    return out;
}
std::string png_ihdr(uint32_t w, uint32_t h, int depth, int color) {
    return png_chunk("IHDR", be32(w) + be32(h) + std::string{char(depth), char(color), 0, 0, 0});
}
std::string png_rows_16x16() {
    std::string rows;
    for (int y = 0; y < 16; ++y) {
        rows += '\0';
        for (int x = 0; x < 48; ++x) rows += char((x * 5 + y * 11) & 255);
    }
    return rows;
}
std::string compress_text(const std::string& text) {
    uLongf size = compressBound(static_cast<uLong>(text.size()));
    std::string out(size, '\0');
    REQUIRE(compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(text.data()),
                      static_cast<uLong>(text.size()), 9) == Z_OK);
    out.resize(size);
    return out;
}

// The bombs a `gen` setup step can write; each inflates to at least 64 MB.
std::string bomb(const std::string& kind) {
    const std::string signature = "\x89PNG\r\n\x1a\n";
    const std::string end = png_chunk("IEND", "");
    const std::string rows = compress_text(png_rows_16x16());
    if (kind == "png_idat_bomb")  // 16x16 RGB whose image data inflates to 64 MB
        return signature + png_ihdr(16, 16, 8, 2) + png_chunk("IDAT", deflate_run(64u << 20, 0)) + end;
    if (kind == "png_ztxt_bomb")  // a 128 MB text chunk before the pixels
        return signature + png_ihdr(16, 16, 8, 2) + png_chunk("zTXt", std::string("Comment\0\0", 9) + deflate_run(128u << 20, 'A')) +
               png_chunk("IDAT", rows) + end;
    if (kind == "png_iccp_bomb")  // a 128 MB colour profile
        return signature + png_ihdr(16, 16, 8, 2) + png_chunk("iCCP", std::string("icc\0\0", 5) + deflate_run(128u << 20, 'A')) +
               png_chunk("IDAT", rows) + end;
    if (kind == "png_size_bomb")  // 20000x20000 gray (400 Mpixel, over the limit), 64 MB of real zeros
        return signature + png_ihdr(20000, 20000, 8, 0) + png_chunk("IDAT", deflate_run(64u << 20, 0)) + end;
    if (kind == "png_limit_bomb")  // 16384x16384 gray: exactly the pixel limit, data for 64 MB of it
        return signature + png_ihdr(16384, 16384, 8, 0) + png_chunk("IDAT", deflate_run(64u << 20, 0)) + end;
    FAIL("manifest: unknown generated input '" << kind << "'");
    return "";
}

// ---- the manifest ---------------------------------------------------------------------------

struct Entry {
    int line = 0;
    std::string id, category, setup, command, expect;
    int exit_status = 1;
};

std::vector<Entry> read_manifest() {
    std::ifstream in(k_corpus / "manifest.tsv");
    REQUIRE(in);
    std::vector<Entry> entries;
    int number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        if (line.empty() || line[0] == '#') continue;
        const auto fields = split(line, "\t");
        INFO("manifest.tsv line " << number << ": " << line);
        REQUIRE(fields.size() == 6);
        Entry e;
        e.line = number;
        e.id = fields[0], e.category = fields[1], e.setup = fields[2], e.command = fields[3];
        e.exit_status = std::stoi(fields[4]);
        e.expect = fields[5];
        entries.push_back(e);
    }
    return entries;
}

// What the whole manifest shares: the good model, a few good images, one finished training run.
struct Fixtures {
    sr::test::TempDir dir;
    fs::path run_dir, images;
    Fixtures() {
        images = dir.path / "images";
        sr::test::write_training_images(images, 8, 32);
        const auto r = sr::test::run_command(
            tool("sr-train") + " --profile wdsr-b-8 --num-filters 4 --num-res-blocks 1 --scale 2 --dataset " + q(images) +
            " --epochs 1 --steps-per-epoch 2 --batch-size 2 --lr-patch-size 8 --validation-steps 1 --loader-threads 1"
            " --threads 1 --seed 3 -q --outdir " +
            q(dir.path / "runs"));
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        run_dir = fs::directory_iterator(dir.path / "runs")->path();
    }
};

// A case's folder, after its setup steps ran.
struct Case {
    fs::path dir, input, out;
    bool as_nobody = false;  // run the tool as user nobody (the unreadable-file cases, when we are root)
};

void setup_step(const std::string& step, Case& c, const Fixtures& fx) {
    const auto words = split(step, " ");
    const std::string& verb = words[0];
    auto arg = [&](std::size_t i) {
        INFO("setup step '" << step << "'");
        REQUIRE(words.size() > i);
        return words[i];
    };
    if (verb == "-") return;
    if (verb == "file") {  // a corpus file
        c.input = c.dir / arg(1);
        fs::copy_file(k_corpus / "files" / arg(1), c.input);
    } else if (verb == "seed") {  // a valid fuzz seed (fuzz/corpus/<target>/<name>)
        c.input = c.dir / fs::path(arg(1)).filename();
        fs::copy_file(fs::path(SR_SOURCE_DIR) / "fuzz" / "corpus" / arg(1), c.input);
    } else if (verb == "good") {  // good NAME HEIGHT WIDTH CHANNELS [DEPTH]: a valid noise image
        c.input = c.dir / arg(1);
        sr::io::write_image(c.input, noise_image(std::stoi(arg(2)), std::stoi(arg(3)), std::stoi(arg(4)),
                                                 words.size() > 5 ? std::stoi(words[5]) : 8));
    } else if (verb == "gen") {  // gen KIND NAME: a generated bomb
        c.input = c.dir / arg(2);
        write_text(c.input, bomb(arg(1)));
    } else if (verb == "folder") {  // folder NAME: two good images and the corpus file NAME
        c.input = c.dir / "set";
        fs::create_directories(c.input);
        sr::io::write_image(c.input / "a.png", noise_image(16, 16, 3, 8, 1));
        sr::io::write_image(c.input / "b.png", noise_image(16, 16, 3, 8, 2));
        fs::copy_file(k_corpus / "files" / arg(1), c.input / arg(1));
    } else if (verb == "mkdir") {  // a directory named like an image
        c.input = c.dir / arg(1);
        fs::create_directories(c.input);
    } else if (verb == "fifo") {  // a named pipe named like an image: no writer ever comes
        c.input = c.dir / arg(1);
        REQUIRE(::mkfifo(c.input.c_str(), 0644) == 0);
    } else if (verb == "unreadable") {  // unreadable NAME: mode 000 for a file an earlier step made
        fs::permissions(c.dir / arg(1), fs::perms::none);
        // root reads files whatever their mode: the tool then runs as nobody, which needs to
        // reach the case folder and write to its output folder (it writes nothing, if correct).
        if (::geteuid() == 0) {
            c.as_nobody = true;
            fs::permissions(c.dir, fs::perms::all);
            fs::permissions(c.out.parent_path(), fs::perms::all);
        }
    } else if (verb == "blocker") {  // a regular file where a folder should be
        write_text(c.dir / arg(1), "not a folder\n");
    } else if (verb == "run") {  // a copy of the finished training run
        fs::copy(fx.run_dir, c.dir / "run", fs::copy_options::recursive);
    } else if (verb == "args") {  // args JSON: merged into the run's args.json (RFC 7386)
        nlohmann::json j = nlohmann::json::parse(read_text(c.dir / "run" / "args.json"));
        j.merge_patch(nlohmann::json::parse(step.substr(5)));
        write_text(c.dir / "run" / "args.json", j.dump(2));
    } else if (verb == "args-text") {  // args-text TEXT: the whole args.json (may be empty)
        write_text(c.dir / "run" / "args.json", step.size() > 10 ? step.substr(10) : "");
    } else if (verb == "rm") {  // rm REL: delete a file of the run
        REQUIRE(fs::remove(c.dir / "run" / arg(1)));
    } else if (verb == "cut") {  // cut REL BYTES: truncate a file of the run
        fs::resize_file(c.dir / "run" / arg(1), std::stoull(arg(2)));
    } else if (verb == "put") {  // put NAME REL: a corpus file replaces a file of the run
        fs::copy_file(k_corpus / "files" / arg(1), c.dir / "run" / arg(2), fs::copy_options::overwrite_existing);
    } else {
        FAIL("manifest: unknown setup step '" << step << "'");
    }
}

struct Outcome {
    int exit_status = -1;
    std::string out, err;
};

// Runs a shell command line with a time limit (a hang ends as exit status 124), its stdout and
// stderr read through pipes: a full-disk case limits the file size of the tool's process, which
// must not cut what it prints.
Outcome run_case(const std::string& command, const Case& c) {
    const fs::path script = c.dir / "command.sh";
    write_text(script, command + "\n");
    std::vector<std::string> args = {"timeout", "-k", "5", "120"};
    if (c.as_nobody) args.insert(args.end(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
    args.insert(args.end(), {"sh", script.string()});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out_pipe[2], err_pipe[2];
    REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, "timeout", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    REQUIRE(spawned == 0);
    Outcome o;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&o.out, &o.err};
    for (int open_fds = 2; open_fds > 0;) {
        if (::poll(fds, 2, -1) < 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buffer[4096];
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n > 0) {
                sinks[i]->append(buffer, static_cast<std::size_t>(n));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    o.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return o;
}

// Files anywhere under `dir` whose names mark an unfinished write (AtomicFile's ".<name>.tmp<n>").
std::vector<std::string> temporary_files(const fs::path& dir) {
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied))
        if (e.path().filename().string().find(".tmp") != std::string::npos) found.push_back(e.path().string());
    return found;
}

}  // namespace

TEST_CASE("every input of the bad-input corpus ends as its manifest says", "[tools][bad_inputs]") {
    const auto entries = read_manifest();
    // The floor: at least 100 bad inputs, and manifest ids are unique.
    std::map<std::string, int> ids;
    int bad = 0;
    for (const auto& e : entries) {
        ++ids[e.id];
        bad += e.exit_status != 0;
    }
    CHECK(bad >= 100);
    for (const auto& [id, count] : ids) CHECK(count == 1);

    const Fixtures fx;
    sr::test::TempDir root;
    for (const auto& e : entries) {
        INFO("manifest.tsv line " << e.line << ": " << e.id);
        Case c;
        c.dir = root.path / e.id;
        c.out = c.dir / "out" / "result.png";
        fs::create_directories(c.out.parent_path());
        for (const auto& step : split(e.setup, " | ")) setup_step(step, c, fx);

        std::string command = e.command;
        fs::path model = k_good_model;
        for (const char* name : {"sr-infer", "sr-eval", "sr-data", "sr-train"}) {
            fs::path exe = tool(name);
            if (c.as_nobody && command.find(std::string("{") + name + "}") != std::string::npos) {
                // nobody may not reach the build tree (a CI checkout under /root): run copies
                exe = c.dir / name;
                fs::copy_file(tool(name), exe);
                model = c.dir / k_good_model.filename();
                if (!fs::exists(model)) fs::copy_file(k_good_model, model);
            }
            replace_all(command, std::string("{") + name + "}", q(exe));
        }
        replace_all(command, "{model}", q(model));
        replace_all(command, "{in}", q(c.input));
        replace_all(command, "{out}", q(c.out));
        replace_all(command, "{dir}", q(c.dir));
        replace_all(command, "{run}", q(c.dir / "run"));
        replace_all(command, "{images}", q(fx.images));
        const Outcome o = run_case(command, c);
        INFO("command: " << command << "\nexit " << o.exit_status << "\nstderr:\n" << o.err << "stdout:\n" << o.out);

        CHECK(o.exit_status == e.exit_status);  // also catches a signal (128 + n) and a hang (124)
        if (e.exit_status == 0) {
            // expect = "WxH" of the output image
            CHECK(fs::exists(c.out));
            if (fs::exists(c.out)) {
                const auto result = sr::io::read_image(c.out);
                CHECK(std::to_string(result.width()) + "x" + std::to_string(result.height()) == e.expect);
            }
        } else {
            int matching = 0;
            for (const auto& line : lines_of(o.err))
                if (line.find(e.expect) != std::string::npos) {
                    ++matching;
                    CHECK(line.rfind("sr-", 0) == 0);  // "<tool>: ...", not a library's or the runtime's text
                }
            CHECK(matching == 1);
            std::vector<std::string> outputs;  // no output file, partial or complete (folders may remain)
            for (const auto& f : fs::recursive_directory_iterator(c.out.parent_path(), fs::directory_options::skip_permission_denied))
                if (!f.is_directory()) outputs.push_back(f.path().string());
            CHECK(outputs.empty());
        }
        CHECK(temporary_files(c.dir).empty());
    }
}

TEST_CASE("a folder mixing good and bad images: the good are written, every bad one is named once", "[tools][bad_inputs]") {
    sr::test::TempDir dir;
    const fs::path in = dir.path / "in", out = dir.path / "out";
    fs::create_directories(in);
    std::vector<std::string> bad_names;
    for (const auto& e : read_manifest()) {
        // Every bad image that sr-infer reads directly from the corpus.
        if (e.exit_status == 0 || e.setup.rfind("file ", 0) != 0 || e.command.rfind("{sr-infer} -m {model} -i {in}", 0) != 0)
            continue;
        const std::string name = e.setup.substr(5);
        if (!sr::io::is_image_file(name)) continue;
        fs::copy_file(k_corpus / "files" / name, in / name);
        bad_names.push_back(name);
    }
    REQUIRE(bad_names.size() >= 60);
    for (int i = 0; i < 3; ++i) sr::io::write_image(in / ("good" + std::to_string(i) + ".png"), noise_image(8, 12, 3, 8, i));

    Case c;
    c.dir = dir.path;
    const Outcome r = run_case(q(tool("sr-infer")) + " -m " + q(k_good_model) + " -i " + q(in) + " -o " + q(out), c);
    const std::string& err = r.err;
    INFO(r.out << err);
    CHECK(r.exit_status == 1);
    CHECK_THAT(r.out, Catch::Contains("3 upscaled, 0 skipped, " + std::to_string(bad_names.size()) + " failed"));
    for (int i = 0; i < 3; ++i) CHECK(sr::io::read_image(out / ("good" + std::to_string(i) + ".png")).width() == 24);
    const auto lines = lines_of(err);
    for (const auto& name : bad_names) {
        INFO(name);
        CHECK(std::count_if(lines.begin(), lines.end(),
                            [&](const std::string& l) { return l.find("/" + name + ": ") != std::string::npos; }) == 1);
    }
    // Nothing but the three good outputs, and no temporary files.
    int outputs = 0;
    for (const auto& e : fs::recursive_directory_iterator(out)) outputs += e.is_regular_file();
    CHECK(outputs == 3);
}

TEST_CASE("a file that vanishes after the folder was listed is one failure, the others are written", "[tools][bad_inputs]") {
    sr::test::TempDir dir;
    const fs::path in = dir.path / "in", out = dir.path / "out";
    fs::create_directories(in);
    sr::io::write_image(in / "a.png", noise_image(8, 8, 3, 8, 1));
    sr::io::write_image(in / "b.png", noise_image(8, 8, 3, 8, 2));
    sr::io::write_image(in / "c.png", noise_image(8, 8, 3, 8, 3));

    // sr-infer lists the folder, then prints "N image(s)" on stderr before it reads any of them.
    // Its stderr is a pipe the test has filled, so that write blocks: the test sees it blocked
    // there (Linux: /proc/<pid>/syscall shows write(2, ...)), deletes b.png, and drains the pipe.
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    REQUIRE(::fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK) == 0);
    const std::string filler(4096, '#');
    while (::write(pipe_fds[1], filler.data(), filler.size()) > 0) {
    }
    REQUIRE(::fcntl(pipe_fds[1], F_SETFL, 0) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    const std::string exe = tool("sr-infer");
    std::vector<std::string> args = {exe, "-m", k_good_model.string(), "-i", in.string(), "-o", out.string(), "-j", "1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);

    bool blocked = false;
    const fs::path syscall_file = "/proc/" + std::to_string(pid) + "/syscall";
    for (int i = 0; i < 3000 && !blocked; ++i) {  // up to 30 s on a loaded machine
        const std::string text = read_text(syscall_file);
        blocked = text.rfind("1 0x2 ", 0) == 0 || text.rfind("64 0x2 ", 0) == 0;  // write(2, ...): x86-64, arm64
        if (!blocked) ::usleep(10000);
    }
    if (blocked) fs::remove(in / "b.png");
    std::string err;
    char buffer[4096];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) err.append(buffer, static_cast<std::size_t>(n));
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    err.erase(0, std::min(err.size(), err.find_first_not_of('#')));  // the test's own filler
    INFO(err);
    REQUIRE(blocked);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    CHECK(fs::exists(out / "a.png"));
    CHECK(fs::exists(out / "c.png"));
    CHECK_FALSE(fs::exists(out / "b.png"));
    const auto lines = lines_of(err);
    CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
              return l.find("b.png: i/o error: cannot open: No such file or directory") != std::string::npos;
          }) == 1);
}

}  // namespace test_bad_inputs
