# libpoll on Debian 12. Builds the library, its tests and examples; the default command is the
# main job (the example program polling loopback sockets).
#   buildah bud --isolation=chroot -t libpoll .      (or docker build -t libpoll .)
#   podman run --rm libpoll
FROM debian:bookworm

WORKDIR /src/libpoll
COPY . .
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/* \
 && scripts/build.sh build -DLIBPOLL_BUILD_TESTS=ON -DLIBPOLL_BUILD_BENCH=OFF \
 && ctest --test-dir build --output-on-failure -L "single|pollscope" \
 && cmake --install build

CMD ["pollscope", "run"]
