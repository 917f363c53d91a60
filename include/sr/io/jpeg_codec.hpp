#pragma once
// JPEG decoding with libjpeg-turbo (Debian libjpeg62-turbo-dev). JPEG is the most common input of an
// upscaler and the one stb_image decoded out of bounds under fuzzing, so it goes through the
// decoder that upstream fuzzes continuously. Before libjpeg sees the bytes, scan_jpeg checks the
// marker chain (a cut-off file is an error, not an image padded with gray) and names the variants
// we do not read (arithmetic coding, lossless, 12-bit).
// Out: 8-bit gray (1 channel) or RGB (3 channels); CMYK and YCCK files are converted to RGB
// (Adobe's inverted CMYK when the file carries an Adobe marker, as Photoshop writes it).
// Errors: ImageError naming the file, with libjpeg's own message for corrupt data.
#include <csetjmp>
#include <cstdint>
#include <cstdio>  // before jpeglib.h, which uses FILE without including it
#include <cstring>
#include <string>

#include <jpeglib.h>
// After jpeglib.h: the message codes (JWRN_...) of the warnings that mean damaged pixels.
#include <jerror.h>

#include "sr/io/image_transform.hpp"
#include "sr/io/image_types.hpp"
#include "sr/io/jpeg_markers.hpp"

namespace sr::io {

namespace detail {

inline void check_jpeg(const JpegStructure& jpeg, const std::string& file) {
    if (jpeg.corrupt) image_fail(ImageErrorKind::corrupt, file, "JPEG: ", jpeg.problem);
    if (!jpeg.complete) image_fail(ImageErrorKind::truncated, file, "JPEG: ", jpeg.problem);
    if (!jpeg.has_frame) image_fail(ImageErrorKind::corrupt, file, "JPEG: no frame header (SOF)");
    if (jpeg.sof_marker != 0xC0 && jpeg.sof_marker != 0xC1 && jpeg.sof_marker != 0xC2) {
        const bool arithmetic = jpeg.sof_marker >= 0xC9;
        const bool lossless = jpeg.sof_marker == 0xC3 || jpeg.sof_marker == 0xC7 || jpeg.sof_marker == 0xCB ||
                              jpeg.sof_marker == 0xCF;
        image_fail(ImageErrorKind::unsupported, file, "JPEG: ",
                   lossless ? "lossless" : arithmetic ? "arithmetic-coded" : "hierarchical", " JPEG (SOF 0x",
                   std::hex, jpeg.sof_marker, ")");
    }
    if (jpeg.precision != 8)
        image_fail(ImageErrorKind::unsupported, file, "JPEG: ", jpeg.precision, "-bit samples (only 8-bit JPEG)");
    // A height of 0 means "given later by a DNL marker", which libjpeg does not support either.
    if (jpeg.width == 0 || jpeg.height == 0)
        image_fail(ImageErrorKind::corrupt, file, "JPEG: the frame header says ", jpeg.width, "x", jpeg.height, " pixels");
    if (jpeg.components != 1 && jpeg.components != 3 && jpeg.components != 4)
        image_fail(ImageErrorKind::corrupt, file, "JPEG: ", jpeg.components, " color components (expected 1, 3 or 4)");
}

// A progressive JPEG may hold any number of scans, each a full pass over the coefficients: a few
// KB can cost minutes. libjpeg-turbo's TurboJPEG API stops at 500 scans; so do we.
inline constexpr int k_jpeg_max_scans = 500;

// libjpeg reports fatal errors through a callback that must not return. The decoder state below is
// trivially destructible and lives in a frame that owns no C++ objects, so the longjmp back to
// setjmp skips no destructor; the C++ error is thrown only after the jump.
struct JpegDecoder {
    jpeg_decompress_struct cinfo;
    jpeg_error_mgr errors;
    jpeg_progress_mgr progress;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    bool damaged;  // libjpeg warned that it filled in missing or corrupt data
};

[[noreturn]] inline void jpeg_error_exit(j_common_ptr cinfo) {
    auto* decoder = static_cast<JpegDecoder*>(cinfo->client_data);
    (*cinfo->err->format_message)(cinfo, decoder->message);
    std::longjmp(decoder->jump, 1);
}

// Warnings (level -1) that mean pixels were invented: a premature end or a corrupt entropy
// segment. Others (extraneous bytes between markers, unknown JFIF versions) leave the image intact.
inline void jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level != -1) return;
    const int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC) {
        auto* decoder = static_cast<JpegDecoder*>(cinfo->client_data);
        if (!decoder->damaged) (*cinfo->err->format_message)(cinfo, decoder->message);
        decoder->damaged = true;
    }
}

inline void jpeg_count_scans(j_common_ptr cinfo) {
    auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
    if (d->input_scan_number > k_jpeg_max_scans) {
        auto* decoder = static_cast<JpegDecoder*>(cinfo->client_data);
        std::snprintf(decoder->message, sizeof decoder->message, "more than %d progressive scans", k_jpeg_max_scans);
        std::longjmp(decoder->jump, 2);
    }
}

// Sets up `d` and reads the header; out_color_space is chosen (gray, RGB or CMYK). Returns 0, or
// the setjmp code of a failure with d.message set. d.cinfo must be destroyed by the caller.
inline int jpeg_start(JpegDecoder& d, const uint8_t* bytes, std::size_t size) {
    std::memset(&d, 0, sizeof d);
    d.cinfo.err = jpeg_std_error(&d.errors);
    d.errors.error_exit = jpeg_error_exit;
    d.errors.emit_message = jpeg_emit_message;
    if (const int failed = setjmp(d.jump)) return failed;
    jpeg_create_decompress(&d.cinfo);
    d.cinfo.client_data = &d;
    d.progress.progress_monitor = jpeg_count_scans;
    d.cinfo.progress = &d.progress;
    jpeg_mem_src(&d.cinfo, bytes, static_cast<unsigned long>(size));
    jpeg_read_header(&d.cinfo, TRUE);
    if (d.cinfo.jpeg_color_space == JCS_GRAYSCALE)
        d.cinfo.out_color_space = JCS_GRAYSCALE;
    else if (d.cinfo.jpeg_color_space == JCS_CMYK || d.cinfo.jpeg_color_space == JCS_YCCK)
        d.cinfo.out_color_space = JCS_CMYK;
    else
        d.cinfo.out_color_space = JCS_RGB;
    return 0;
}

// Decodes every row into `pixels` (output_height rows of output_width * output_components bytes).
inline int jpeg_finish(JpegDecoder& d, uint8_t* pixels, std::size_t row_bytes) {
    if (const int failed = setjmp(d.jump)) return failed;
    jpeg_start_decompress(&d.cinfo);
    while (d.cinfo.output_scanline < d.cinfo.output_height) {
        JSAMPROW row = pixels + std::size_t{d.cinfo.output_scanline} * row_bytes;
        jpeg_read_scanlines(&d.cinfo, &row, 1);
    }
    jpeg_finish_decompress(&d.cinfo);
    return 0;
}

// Owns the libjpeg state between the two phases; destroying it frees libjpeg's memory.
struct JpegDecoderGuard {
    JpegDecoder& decoder;
    ~JpegDecoderGuard() { jpeg_destroy_decompress(&decoder.cinfo); }
};

}  // namespace detail

// The size and channel count (1 gray, 3 otherwise) a JPEG decodes to, before EXIF orientation.
inline ImageInfo read_jpeg_info(const uint8_t* bytes, std::size_t size, const std::string& file) {
    detail::JpegDecoder decoder;
    detail::JpegDecoderGuard guard{decoder};
    if (detail::jpeg_start(decoder, bytes, size) != 0)
        image_fail(ImageErrorKind::corrupt, file, "JPEG: ", decoder.message);
    ImageInfo info;
    info.height = static_cast<int>(decoder.cinfo.image_height);
    info.width = static_cast<int>(decoder.cinfo.image_width);
    info.channels = decoder.cinfo.out_color_space == JCS_GRAYSCALE ? 1 : 3;
    return info;
}

// Decodes JPEG bytes (baseline or progressive, 8-bit) to gray or RGB; turned upright by the EXIF
// orientation when apply_orientation is set. Images over max_pixels fail before any pixel is
// decoded.
inline Image decode_jpeg(const uint8_t* bytes, std::size_t size, const std::string& file, int64_t max_pixels,
                         bool apply_orientation) {
    const JpegStructure structure = scan_jpeg(bytes, size);
    detail::check_jpeg(structure, file);
    detail::JpegDecoder decoder;
    detail::JpegDecoderGuard guard{decoder};
    if (detail::jpeg_start(decoder, bytes, size) != 0)
        image_fail(ImageErrorKind::corrupt, file, "JPEG: ", decoder.message);
    const int64_t width = decoder.cinfo.image_width, height = decoder.cinfo.image_height;
    if (width * height > max_pixels)
        image_fail(ImageErrorKind::too_large, file, width, "x", height, " pixels exceed the limit of ", max_pixels,
                   " (ReadOptions::max_pixels)");
    const bool cmyk = decoder.cinfo.out_color_space == JCS_CMYK;
    const int channels = decoder.cinfo.out_color_space == JCS_GRAYSCALE ? 1 : 3;
    // CMYK is decoded into a 4-channel buffer, then mixed down to RGB in place.
    Image image(static_cast<int>(height), static_cast<int>(width), cmyk ? 4 : channels, 8);
    const std::size_t row_bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(image.channels());
    if (const int failed = detail::jpeg_finish(decoder, image.data8(), row_bytes))
        image_fail(ImageErrorKind::corrupt, file, "JPEG: ", decoder.message);
    if (decoder.damaged) image_fail(ImageErrorKind::corrupt, file, "JPEG: ", decoder.message);
    if (cmyk) {
        // Adobe (Photoshop) stores CMYK inverted: the samples are 255 - ink, so R = C' * K' / 255.
        const bool inverted = decoder.cinfo.saw_Adobe_marker;
        Image rgb(static_cast<int>(height), static_cast<int>(width), 3, 8);
        const uint8_t* in = image.data8();
        uint8_t* out = rgb.data8();
        for (std::size_t p = 0; p < static_cast<std::size_t>(image.pixel_count()); ++p, in += 4, out += 3) {
            const int k = inverted ? in[3] : 255 - in[3];
            for (int c = 0; c < 3; ++c) {
                const int ink = inverted ? in[c] : 255 - in[c];
                out[c] = static_cast<uint8_t>((ink * k + 127) / 255);
            }
        }
        image = std::move(rgb);
    }
    if (apply_orientation && structure.orientation != 1)
        image = dihedral(image, dihedral_for_exif_orientation(structure.orientation));
    return image;
}

}  // namespace sr::io
