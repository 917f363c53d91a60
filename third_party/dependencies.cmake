# Finds the system packages sr depends on (all from Debian 12). No code is vendored: this file only
# locates what apt installed, and stops configuration with the exact install line when something
# is missing. It is also installed next to srConfig.cmake so consumers find the same dependencies
# (SR_FIND_FOR_CONSUMER; there the image codecs are looked for only for the image component).

set(SR_APT_RUNTIME_PACKAGES libeigen3-dev libdnnl-dev libstb-dev nlohmann-json3-dev libpng-dev libjpeg62-turbo-dev)
set(SR_APT_BUILD_PACKAGES libcli11-dev catch2 libbenchmark-dev)

function(sr_missing_package what package)
  message(FATAL_ERROR "sr: ${what} was not found. Install it with:\n"
                      "  apt-get install -y ${package}\n"
                      "or everything sr needs at once:\n"
                      "  apt-get install -y ${SR_APT_RUNTIME_PACKAGES} ${SR_APT_BUILD_PACKAGES}")
endfunction()

find_package(Threads REQUIRED)

find_package(OpenMP QUIET COMPONENTS CXX)
if(NOT OpenMP_CXX_FOUND)
  sr_missing_package("OpenMP (libgomp)" "libgomp1")
endif()

find_package(Eigen3 3.3 QUIET NO_MODULE)
if(NOT TARGET Eigen3::Eigen)
  sr_missing_package("Eigen 3" "libeigen3-dev")
endif()

# oneDNN: found by header and library rather than through Debian's dnnl-config.cmake, because that
# file insists on OpenCL headers (ocl-icd-opencl-dev, only a Recommends of libdnnl-dev) even though
# sr uses oneDNN's CPU engine alone.
if(NOT TARGET DNNL::dnnl)
  find_path(SR_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(SR_DNNL_LIBRARY NAMES dnnl)
  if(NOT SR_DNNL_INCLUDE_DIR OR NOT SR_DNNL_LIBRARY)
    sr_missing_package("oneDNN (dnnl)" "libdnnl-dev")
  endif()
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${SR_DNNL_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${SR_DNNL_INCLUDE_DIR}")
endif()

find_package(nlohmann_json 3 QUIET CONFIG)
if(NOT TARGET nlohmann_json::nlohmann_json)
  sr_missing_package("nlohmann-json" "nlohmann-json3-dev")
endif()

# The image codecs of sr::image: libpng, libjpeg-turbo (JPEG is decoded by it, fuzzed upstream, not by
# stb_image: sr/io/jpeg_codec.hpp) and stb (BMP, TGA; TensorBoard's PNG images). sr::sr needs none
# of them, so a consumer's find_package(sr COMPONENTS core) never calls this. Sets
# SR_IMAGE_CODECS_FOUND, and SR_IMAGE_CODECS_MISSING / SR_IMAGE_CODECS_APT (what is missing and the
# Debian packages that provide it).
macro(sr_find_image_codecs)
  set(SR_IMAGE_CODECS_MISSING)
  set(SR_IMAGE_CODECS_APT)
  find_package(PNG QUIET)
  if(NOT TARGET PNG::PNG)
    list(APPEND SR_IMAGE_CODECS_MISSING libpng)
    list(APPEND SR_IMAGE_CODECS_APT libpng-dev)
  endif()
  find_package(JPEG QUIET)
  if(NOT TARGET JPEG::JPEG)
    list(APPEND SR_IMAGE_CODECS_MISSING libjpeg-turbo)
    list(APPEND SR_IMAGE_CODECS_APT libjpeg62-turbo-dev)
  endif()
  # Debian's libstb-dev ships the stb implementations compiled into libstb, so no translation unit
  # of ours defines STB_IMAGE_IMPLEMENTATION and the headers stay safe to include anywhere.
  if(NOT TARGET Stb::stb)
    find_path(SR_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
    find_library(SR_STB_LIBRARY stb)
    if(SR_STB_INCLUDE_DIR AND SR_STB_LIBRARY)
      add_library(Stb::stb INTERFACE IMPORTED GLOBAL)
      set_target_properties(Stb::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${SR_STB_INCLUDE_DIR}"
                                                INTERFACE_LINK_LIBRARIES "${SR_STB_LIBRARY}")
    else()
      list(APPEND SR_IMAGE_CODECS_MISSING "stb (stb_image.h and libstb)")
      list(APPEND SR_IMAGE_CODECS_APT libstb-dev)
    endif()
  endif()
  if(SR_IMAGE_CODECS_MISSING)
    set(SR_IMAGE_CODECS_FOUND OFF)
    list(JOIN SR_IMAGE_CODECS_MISSING ", " SR_IMAGE_CODECS_MISSING)
    list(JOIN SR_IMAGE_CODECS_APT " " SR_IMAGE_CODECS_APT)
  else()
    set(SR_IMAGE_CODECS_FOUND ON)
  endif()
endmacro()

# sr's own build defines sr::image, which its tools, tests and examples use.
if(NOT SR_FIND_FOR_CONSUMER)
  sr_find_image_codecs()
  if(NOT SR_IMAGE_CODECS_FOUND)
    sr_missing_package("${SR_IMAGE_CODECS_MISSING}" "${SR_IMAGE_CODECS_APT}")
  endif()
endif()

if(NOT SR_FIND_FOR_CONSUMER)
  if(SR_BUILD_TOOLS)
    find_package(CLI11 QUIET CONFIG)
    if(NOT TARGET CLI11::CLI11)
      sr_missing_package("CLI11" "libcli11-dev")
    endif()
  endif()
  if(SR_BUILD_TESTS)
    find_package(Catch2 2 QUIET CONFIG)
    if(NOT TARGET Catch2::Catch2)
      sr_missing_package("Catch2 v2" "catch2")
    endif()
  endif()
  if(SR_BUILD_BENCH)
    find_package(benchmark QUIET CONFIG)
    if(NOT TARGET benchmark::benchmark)
      sr_missing_package("Google Benchmark" "libbenchmark-dev")
    endif()
  endif()
endif()

# cuDNN 9 as the imported target CUDNN::cudnn (after find_package(CUDAToolkit)). Looked up, in this
# order, where the user says (CUDNN_INCLUDE_DIR / CUDNN_LIBRARY cache variables, CUDNN_ROOT or
# CUDNN_PATH as CMake or environment variables), in Python packages (pip's nvidia-cudnn-cu13 puts
# it in site-packages/nvidia/cudnn/{include,lib}, the only copy on some GPU machines), then in the
# CUDA toolkit and the system. Sets SR_CUDNN_FOUND in the caller's scope; with REQUIRED a miss
# stops configuration with what to set.
function(sr_find_cudnn)
  cmake_parse_arguments(ARG "REQUIRED" "" "" ${ARGN})
  if(TARGET CUDNN::cudnn)
    set(SR_CUDNN_FOUND ON PARENT_SCOPE)
    return()
  endif()
  set(hints)
  foreach(root IN ITEMS "${CUDNN_ROOT}" "$ENV{CUDNN_ROOT}" "${CUDNN_PATH}" "$ENV{CUDNN_PATH}")
    if(root)
      list(APPEND hints "${root}")
    endif()
  endforeach()
  find_program(SR_PYTHON3_FOR_CUDNN NAMES python3 python)
  mark_as_advanced(SR_PYTHON3_FOR_CUDNN)
  if(SR_PYTHON3_FOR_CUDNN)
    execute_process(COMMAND "${SR_PYTHON3_FOR_CUDNN}" -c "import nvidia.cudnn as m; print(list(m.__path__)[0])"
                    OUTPUT_VARIABLE python_cudnn OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE python_rc)
    if(python_rc EQUAL 0 AND IS_DIRECTORY "${python_cudnn}")
      list(APPEND hints "${python_cudnn}")
    endif()
  endif()
  file(GLOB site_cudnn LIST_DIRECTORIES true
       "$ENV{VIRTUAL_ENV}/lib/python3*/site-packages/nvidia/cudnn" "$ENV{HOME}/.local/lib/python3*/site-packages/nvidia/cudnn"
       "/usr/local/lib/python3*/dist-packages/nvidia/cudnn" "/usr/local/lib/python3*/site-packages/nvidia/cudnn"
       "/usr/lib/python3/dist-packages/nvidia/cudnn")
  list(APPEND hints ${site_cudnn})
  find_path(CUDNN_INCLUDE_DIR cudnn_graph.h HINTS ${hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include
            DOC "Folder of cudnn.h (cuDNN 9)")
  # The pip wheels ship only the versioned name libcudnn.so.9.
  find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 NAMES_PER_DIR HINTS ${hints} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu DOC "libcudnn (cuDNN 9)")
  if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
    if(ARG_REQUIRED)
      message(FATAL_ERROR "sr: cuDNN 9 was not found (header cudnn_graph.h: ${CUDNN_INCLUDE_DIR}, library: "
                          "${CUDNN_LIBRARY}). Install it (apt-get install cudnn9-cuda-13, or pip install "
                          "nvidia-cudnn-cu13), or point CUDNN_ROOT, or CUDNN_INCLUDE_DIR and CUDNN_LIBRARY, at it.")
    endif()
    set(SR_CUDNN_FOUND OFF PARENT_SCOPE)
    return()
  endif()
  file(STRINGS "${CUDNN_INCLUDE_DIR}/cudnn_version.h" major_line REGEX "^#define CUDNN_MAJOR [0-9]+")
  string(REGEX MATCH "[0-9]+" cudnn_major "${major_line}")
  if(cudnn_major LESS 9)
    message(FATAL_ERROR "sr: cuDNN ${cudnn_major} found in ${CUDNN_INCLUDE_DIR}; sr needs cuDNN 9 (graph API)")
  endif()
  add_library(CUDNN::cudnn SHARED IMPORTED GLOBAL)
  set_target_properties(CUDNN::cudnn PROPERTIES IMPORTED_LOCATION "${CUDNN_LIBRARY}"
                                                INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
  message(STATUS "sr: cuDNN ${cudnn_major}: ${CUDNN_LIBRARY}")
  set(SR_CUDNN_FOUND ON PARENT_SCOPE)
endfunction()

# MPI for data-parallel training (Debian: libopenmpi-dev openmpi-bin). sr calls the C API only, from
# C++ (the CXX component, since sr enables no C compiler; the deprecated C++ bindings are skipped).
# Sets SR_MPI_FOUND in the caller's scope.
macro(sr_find_mpi)
  find_package(MPI QUIET COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(SR_MPI_FOUND ON)
    set_property(TARGET MPI::MPI_CXX APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)
  else()
    set(SR_MPI_FOUND OFF)
  endif()
endmacro()

# NCCL (GPU allreduce), shipped with the CUDA toolkit here or by pip (nvidia-nccl-cu13, in
# site-packages/nvidia/nccl). NCCL_ROOT / NCCL_INCLUDE_DIR / NCCL_LIBRARY say where when elsewhere.
# Sets SR_NCCL_FOUND in the caller's scope and defines the imported target NCCL::nccl.
function(sr_find_nccl)
  if(TARGET NCCL::nccl)
    set(SR_NCCL_FOUND ON PARENT_SCOPE)
    return()
  endif()
  set(hints)
  foreach(root IN ITEMS "${NCCL_ROOT}" "$ENV{NCCL_ROOT}")
    if(root)
      list(APPEND hints "${root}")
    endif()
  endforeach()
  file(GLOB site_nccl LIST_DIRECTORIES true
       "$ENV{VIRTUAL_ENV}/lib/python3*/site-packages/nvidia/nccl" "$ENV{HOME}/.local/lib/python3*/site-packages/nvidia/nccl"
       "/usr/local/lib/python3*/dist-packages/nvidia/nccl" "/usr/lib/python3/dist-packages/nvidia/nccl")
  list(APPEND hints ${site_nccl})
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include
            DOC "Folder of nccl.h")
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR HINTS ${hints} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu DOC "libnccl")
  if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
    set(SR_NCCL_FOUND OFF PARENT_SCOPE)
    return()
  endif()
  add_library(NCCL::nccl SHARED IMPORTED GLOBAL)
  set_target_properties(NCCL::nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
  message(STATUS "sr: NCCL: ${NCCL_LIBRARY}")
  set(SR_NCCL_FOUND ON PARENT_SCOPE)
endfunction()

if(SR_FIND_FOR_CONSUMER AND SR_WITH_MPI_BUILT)
  sr_find_mpi()
  if(NOT SR_MPI_FOUND)
    sr_missing_package("MPI (this sr was built with it)" "libopenmpi-dev")
  endif()
endif()

# An installed sr built with CUDA links sr::kernels, which needs the toolkit's runtime, cuBLAS,
# cuBLASLt and cuDNN: found the same way as in the build.
if(SR_FIND_FOR_CONSUMER AND SR_WITH_CUDA_BUILT)
  find_package(CUDAToolkit REQUIRED)
  sr_find_cudnn(REQUIRED)
  if(SR_WITH_NCCL_BUILT)
    sr_find_nccl()
  endif()
endif()
