# 64-bit ARM Linux with Debian's cross toolchain (g++-aarch64-linux-gnu, libc6-dev-arm64-cross;
# scripts/bootstrap.sh --aarch64 installs them). Programs built for the target (tests, the CLI)
# run under qemu-user where it is installed: CMake's cross-compiling emulator, which ctest and
# GoogleTest's test discovery use.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
# Packages from this machine too: Halide's CMake helpers (in .venv) and header-only CLI11. The
# project builds what it needs for the target itself (GoogleTest, stb) rather than find Debian's
# libraries for this machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

find_program(GRIDSAMPLE_QEMU_AARCH64 qemu-aarch64)
if (GRIDSAMPLE_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${GRIDSAMPLE_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu")
endif ()
