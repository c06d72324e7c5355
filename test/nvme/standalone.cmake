# The NVMe tier built alone (interpose/nvme.c + the test shim for options, log and stats), for
# test/nvme and bench/nvme; included by both, defined once.
if(NOT TARGET hmt_nvme_standalone)
  # internal.h includes every .def table; one a room has not written yet is empty here
  # (a quoted #include finds interpose/'s own copy first once it exists).
  set(_nvme_defs ${CMAKE_BINARY_DIR}/nvme-standalone-defs)
  foreach(def hooks.def driver.def options.def stats.def)
    if(NOT EXISTS ${_nvme_defs}/${def})
      file(WRITE ${_nvme_defs}/${def} "")
    endif()
  endforeach()
  add_library(hmt_nvme_standalone STATIC ${CMAKE_SOURCE_DIR}/interpose/nvme.c
              ${CMAKE_SOURCE_DIR}/test/nvme/shim.c)
  target_include_directories(hmt_nvme_standalone PUBLIC ${CMAKE_SOURCE_DIR}/interpose
                             ${HMT_CUDA_INCLUDE} ${_nvme_defs})
  target_link_libraries(hmt_nvme_standalone PUBLIC PkgConfig::URING PkgConfig::CJSON Threads::Threads)
endif()
