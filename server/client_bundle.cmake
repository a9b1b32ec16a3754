# client_bundle.cmake - copy the official client bundle (socket.io-client's
# dist/: socket.io*.js and their .map) from SRC into DST, at build time.
# Run by the sg_client_bundle target on every build: a `npm ci` made after
# cmake configured the tree is picked up by the next build. Unchanged files
# are not copied again (file(COPY) keeps their timestamps, so ETags stay).
#   cmake -DSRC=.../socket.io-client/dist -DDST=build/client -P client_bundle.cmake
if(NOT EXISTS "${SRC}/socket.io.min.js")
  message(WARNING "client bundle: ${SRC}/socket.io.min.js not found (npm ci in "
                  "tests/integration, or -DSG_CLIENT_DIST=DIR); /socket.io/socket.io.min.js "
                  "will answer 404 and `cmake --install` will fail")
  return()
endif()
file(GLOB files "${SRC}/socket.io*.js" "${SRC}/socket.io*.map")
file(COPY ${files} DESTINATION "${DST}")
# Its licence (MIT) goes along, into the same directory: installed next to
# the files it covers (share/siogate/client/LICENSE), never served (static.c
# serves the bundle's file names only).
get_filename_component(pkg "${SRC}" DIRECTORY)
if(EXISTS "${pkg}/LICENSE")
  file(COPY "${pkg}/LICENSE" DESTINATION "${DST}")
endif()
