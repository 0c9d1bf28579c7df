# Istio config -> Snapshot (translate.h). Validation (config::validateOne) runs in loadSnapshot.
file(GLOB HALYARD_TRANSLATE_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
add_library(halyard_translate ${HALYARD_TRANSLATE_SOURCES})
target_link_libraries(halyard_translate
  PUBLIC halyard_snapshot halyard_config_model halyard_common PkgConfig::RE2
  PRIVATE halyard_config_yaml halyard_config_validate)
