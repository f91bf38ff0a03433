# cmake --install: the public headers, the library (one archive, or libgridsample.so with
# BUILD_SHARED_LIBS=ON, holding the kernels, Halide's runtime and the support code: consumers need
# no Halide), the CMake package (find_package(GridSample) -> GridSample::gridsample, with a version
# file), a pkg-config file (gridsample.pc) and the command-line tool.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(config_dir "${CMAKE_INSTALL_LIBDIR}/cmake/GridSample")
install(TARGETS gridsample EXPORT GridSampleTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/runtime/include/gridsample"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT GridSampleTargets NAMESPACE GridSample:: DESTINATION "${config_dir}")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/GridSampleConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/GridSampleConfig.cmake"
                              INSTALL_DESTINATION "${config_dir}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/GridSampleConfigVersion.cmake"
                                 COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/GridSampleConfig.cmake"
              "${PROJECT_BINARY_DIR}/GridSampleConfigVersion.cmake"
        DESTINATION "${config_dir}")

# The prefix relative to the .pc file's folder, so that the installed tree can move.
file(RELATIVE_PATH GRIDSAMPLE_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" GRIDSAMPLE_PC_TO_PREFIX "${GRIDSAMPLE_PC_TO_PREFIX}")
set(GRIDSAMPLE_PC_DL ${CMAKE_DL_LIBS})
list(TRANSFORM GRIDSAMPLE_PC_DL PREPEND "-l")
list(JOIN GRIDSAMPLE_PC_DL " " GRIDSAMPLE_PC_DL)
configure_file("${PROJECT_SOURCE_DIR}/cmake/gridsample.pc.in"
               "${PROJECT_BINARY_DIR}/gridsample.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/gridsample.pc"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

if (TARGET gridsample_cli)
    install(TARGETS gridsample_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif ()
