# libpoll on Debian 12. Builds the library, its tests, examples and pollscope; the default command
# is the main job: pollscope running its built-in default scenario (TCP loopback pairs under a
# closed-loop load, with a leak check), the JSON report on stdout.
#   buildah bud --isolation=chroot -t libpoll .      (or docker build -t libpoll .)
# CI builds it through scripts/image.sh. The builder allows 1,024 descriptors: tests run here
# size themselves to that hard limit.
#   podman run --rm libpoll
FROM debian:bookworm

WORKDIR /src/libpoll
COPY . .
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/* \
 && scripts/build.sh build -DLIBPOLL_BUILD_TESTS=ON -DLIBPOLL_BUILD_BENCH=OFF \
 && ctest --test-dir build --output-on-failure -L "single|pollscope" \
 && cmake --install build

CMD ["pollscope", "run"]
