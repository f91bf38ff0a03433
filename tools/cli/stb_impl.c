/* stb_image and stb_image_write compiled for the target, in cross builds, from the headers of
 * Debian's libstb-dev (whose library is built for the build machine only). */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>
