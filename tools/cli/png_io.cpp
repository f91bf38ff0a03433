// PNG reading and writing through Debian's libstb (stb_image, stb_image_write).
#include "png_io.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <unistd.h>

#include <cstdio>
#include <memory>

namespace gridsample::cli {

bool read_image(const std::string& path, Image& image, std::string& error) {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) {
        error = path + ": cannot open file for reading";
        return false;
    }
    int width = 0, height = 0, channels = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_file(file.get(), &width, &height, &channels, 0), &stbi_image_free);
    if (!pixels) {
        const char* reason = stbi_failure_reason();
        error = path + ": not a readable PNG image (" + (reason ? reason : "unknown problem") + ")";
        return false;
    }
    image.width = width;
    image.height = height;
    image.channels = channels;
    const size_t count = size_t(width) * size_t(height) * size_t(channels);
    image.pixels.assign(pixels.get(), pixels.get() + count);
    return true;
}

bool write_png(const std::string& path, const Image& image, std::string& error) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    if (!stbi_write_png(tmp.c_str(), image.width, image.height, image.channels, image.pixels.data(),
                        image.width * image.channels)) {
        std::remove(tmp.c_str());
        error = path + ": cannot write the PNG file";
        return false;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        error = path + ": cannot replace the file";
        return false;
    }
    return true;
}

}  // namespace gridsample::cli
