# install.cmake - the install steps that depend on the prefix given at
# install time (`cmake --install build --prefix P`, or CPack's /usr with
# DESTDIR): the config file, the systemd unit and siogate.pc. Run by
# install(SCRIPT) from the top-level CMakeLists.txt, which sets SG_* first.
set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" prefix "${prefix}")

# GNUInstallDirs' rule for the configuration directory, applied now: prefix
# /usr -> /etc, any other prefix -> PREFIX/etc (unless configured absolute).
if(IS_ABSOLUTE "${SG_SYSCONFDIR}")
  set(etc "${SG_SYSCONFDIR}")
elseif(prefix STREQUAL "/usr" OR prefix STREQUAL "")
  set(etc "/${SG_SYSCONFDIR}")
else()
  set(etc "${prefix}/${SG_SYSCONFDIR}")
endif()
if(SG_SYSTEMD_UNITDIR)
  set(unitdir "${SG_SYSTEMD_UNITDIR}")
elseif(prefix STREQUAL "/usr" OR prefix STREQUAL "")
  set(unitdir "/lib/systemd/system") # Debian 12's place for packaged units
else()
  set(unitdir "${prefix}/lib/systemd/system")
endif()
# A directory configured as an absolute path stays as it is.
foreach(d BINDIR LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${SG_${d}}")
    set(${d} "${SG_${d}}")
  else()
    set(${d} "${prefix}/${SG_${d}}")
  endif()
endforeach()
# Files made for this install wait here; one directory per destination, so
# two installs at once (ctest -j: a prefix and CPack's) do not mix.
string(SHA1 stage "$ENV{DESTDIR}|${prefix}")
set(stage "${SG_BINARY_DIR}/install-staging/${stage}")
file(MAKE_DIRECTORY "${stage}")

# etc/siogate/siogate.conf: every setting at its default. An operator's
# edited copy is never overwritten (the .deb marks it a conffile).
set(conf_src "${SG_SOURCE_DIR}/conf/siogate.conf")
set(conf_dst "$ENV{DESTDIR}${etc}/siogate/siogate.conf")
if(EXISTS "${conf_dst}")
  file(SHA256 "${conf_src}" a)
  file(SHA256 "${conf_dst}" b)
  if(NOT a STREQUAL b)
    message(STATUS "Keeping: ${conf_dst} (differs from conf/siogate.conf)")
    set(conf_src "")
  endif()
endif()
if(conf_src)
  file(INSTALL DESTINATION "${etc}/siogate" TYPE FILE FILES "${conf_src}")
endif()

# The systemd unit names /usr/bin/siogate and /etc/siogate/: the .deb's
# paths, replaced by this install's when they differ.
file(READ "${SG_SOURCE_DIR}/deploy/systemd/siogate.service" unit)
string(REPLACE "/usr/bin/siogate" "${BINDIR}/siogate" unit "${unit}")
string(REPLACE "/etc/siogate/" "${etc}/siogate/" unit "${unit}")
file(WRITE "${stage}/siogate.service" "${unit}")
file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES "${stage}/siogate.service")

# siogate.pc with this prefix.
set(PC_PREFIX "${prefix}")
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${SG_${d}}")
    set(PC_${d} "${SG_${d}}")
  else()
    set(PC_${d} "\${prefix}/${SG_${d}}")
  endif()
endforeach()
set(PC_VERSION "${SG_VERSION}")
configure_file("${SG_SOURCE_DIR}/server/siogate.pc.in" "${stage}/siogate.pc" @ONLY)
file(INSTALL DESTINATION "${LIBDIR}/pkgconfig" TYPE FILE FILES "${stage}/siogate.pc")
file(REMOVE_RECURSE "${stage}")
