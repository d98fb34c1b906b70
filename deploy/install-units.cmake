# Run by `cmake --install` (deploy/CMakeLists.txt sets the PL_* variables):
# configure the systemd unit templates for the prefix being installed to,
# then install them. CMAKE_INSTALL_PREFIX here is the install-time prefix
# (`--prefix`), and file(INSTALL) adds $DESTDIR and records the files in
# install_manifest.txt, as for every other installed file.

if(IS_ABSOLUTE "${PL_BINDIR}")
  set(CMAKE_INSTALL_FULL_BINDIR "${PL_BINDIR}")
else()
  set(CMAKE_INSTALL_FULL_BINDIR "${CMAKE_INSTALL_PREFIX}/${PL_BINDIR}")
endif()
if(IS_ABSOLUTE "${PL_DATADIR}")
  set(PL_HUD_DIR "${PL_DATADIR}/parley/hud")
else()
  set(PL_HUD_DIR "${CMAKE_INSTALL_PREFIX}/${PL_DATADIR}/parley/hud")
endif()
if(IS_ABSOLUTE "${PL_UNITDIR}")
  set(pl_unitdir "${PL_UNITDIR}")
else()
  set(pl_unitdir "${CMAKE_INSTALL_PREFIX}/${PL_UNITDIR}")
endif()

set(pl_units "")
foreach(unit parley-broker.service parley-gateway.service parley-worker@.service parley.target)
  configure_file("${PL_UNIT_TEMPLATES}/${unit}.in" "${PL_UNIT_STAGE}/${unit}" @ONLY)
  list(APPEND pl_units "${PL_UNIT_STAGE}/${unit}")
endforeach()
file(INSTALL DESTINATION "${pl_unitdir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES ${pl_units})
