# What `cmake --install` puts where, and the Debian package `cpack -G DEB` makes of it: the commands, their
# man pages and bash completion, libdnn (shared and static), include/dnn.h, dnn.pc and dnnConfig.cmake.
include(CMakePackageConfigHelpers)

install(TARGETS dnntrain dnneval dnntune RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# man pages are shipped compressed, as Debian's policy asks (man reads them either way); -n keeps no time stamp
find_program(GZIP_EXECUTABLE gzip REQUIRED)
foreach(cmd dnntrain dnneval dnntune)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/man/${cmd}.1.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${GZIP_EXECUTABLE} -9nc ${PROJECT_SOURCE_DIR}/man/${cmd}.1 > ${PROJECT_BINARY_DIR}/man/${cmd}.1.gz
    DEPENDS ${PROJECT_SOURCE_DIR}/man/${cmd}.1 VERBATIM)
  list(APPEND DNN_MAN_PAGES ${PROJECT_BINARY_DIR}/man/${cmd}.1.gz)
  # bash-completion loads completions/<command> on first use; one script serves both commands
  install(FILES completions/dnn.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
    RENAME ${cmd})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${DNN_MAN_PAGES})
install(FILES ${DNN_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# ---- the library ----
if(TARGET dnn_shared)
  install(TARGETS dnn_shared dnn EXPORT dnnTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES include/dnn.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set(DNN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dnn)
  install(EXPORT dnnTargets NAMESPACE dnn:: DESTINATION ${DNN_CMAKE_DIR})
  configure_package_config_file(cmake/dnnConfig.cmake.in ${PROJECT_BINARY_DIR}/dnnConfig.cmake
    INSTALL_DESTINATION ${DNN_CMAKE_DIR})
  # 0.x releases may change the API between minor versions
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/dnnConfigVersion.cmake COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/dnnConfig.cmake ${PROJECT_BINARY_DIR}/dnnConfigVersion.cmake
    DESTINATION ${DNN_CMAKE_DIR})

  # dnn.pc names the prefix that the install is made to (cmake --install --prefix, or the package's /usr), so
  # it is written at install time, straight to its destination
  set(DNN_PC_LIBS_PRIVATE "")
  foreach(lib ${BLAS_LIBRARIES}) # /usr/lib/x86_64-linux-gnu/libopenblas.so -> -lopenblas
    get_filename_component(name ${lib} NAME_WE)
    string(REGEX REPLACE "^lib" "" name ${name})
    string(APPEND DNN_PC_LIBS_PRIVATE "-l${name} ")
  endforeach()
  string(APPEND DNN_PC_LIBS_PRIVATE "-lcjson -lz ${CMAKE_THREAD_LIBS_INIT} -lm")
  install(CODE "
    set(DNN_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    set(DNN_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
    set(DNN_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(DNN_PC_VERSION \"${PROJECT_VERSION}\")
    set(DNN_PC_LIBS_PRIVATE \"${DNN_PC_LIBS_PRIVATE}\")
    set(pc \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/dnn.pc\")
    message(STATUS \"Installing: \$ENV{DESTDIR}\${pc}\")
    configure_file(\"${PROJECT_SOURCE_DIR}/cmake/dnn.pc.in\" \"\$ENV{DESTDIR}\${pc}\" @ONLY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${pc}\")
  ")
endif()

# ---- the Debian package ----
install(FILES packaging/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/changelog.gz
  COMMAND ${GZIP_EXECUTABLE} -9nc ${PROJECT_SOURCE_DIR}/packaging/changelog > ${PROJECT_BINARY_DIR}/changelog.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/changelog VERBATIM)
add_custom_target(changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/changelog.gz)
install(FILES ${PROJECT_BINARY_DIR}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES packaging/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME dnn)

set(CPACK_PACKAGE_NAME dnn)
set(CPACK_PACKAGE_VENDOR "dnn developers")
set(CPACK_PACKAGE_CONTACT "dnn developers <dev@dnn.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "neural-network trainer for the command line, with a C library")
# the summary above is the first line; CPack indents these ("." separates paragraphs)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "dnn trains dense networks on tabular (CSV) and image (IDX) data from
one JSON file with dnntrain, on OpenBLAS, with checksummed checkpoints, exact
resume and reproducible results. dnneval scores a model, gates CI jobs on its
quality, writes predictions and exports the model to ONNX. dnntune searches
hyperparameters in parallel trials, with early pruning.
.
libdnn (include/dnn.h, with dnn.pc and a CMake package) loads a trained model
from a file or from memory and predicts from C, from many threads at once.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# the shared library's own entry in the package's shlibs, so packages built against it depend on this one
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# ldconfig through dpkg's trigger, as Debian does since glibc 2.x: CPack would otherwise call it from
# generated postinst and postrm scripts, which ours replace
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/deb/triggers
  ${PROJECT_SOURCE_DIR}/packaging/deb/postinst ${PROJECT_SOURCE_DIR}/packaging/deb/postrm
  ${PROJECT_SOURCE_DIR}/packaging/deb/symbols)
include(CPack)
