#define _GNU_SOURCE
#include "CNetHack.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(cnh_observation) == 152, "nle_obs layout of nle 1.3.0");
_Static_assert(offsetof(cnh_observation, blstats) == 0x30, "nle_obs layout of nle 1.3.0");
_Static_assert(offsetof(cnh_observation, misc) == 144, "nle_obs layout of nle 1.3.0");
_Static_assert(offsetof(cnh_settings, initial_seeds) == 0xC008, "nle_settings layout of nle 1.3.0");
_Static_assert(offsetof(cnh_settings, fix_moon_phase) == 0xC030, "nle_settings layout of nle 1.3.0");
_Static_assert(offsetof(cnh_settings, time_seed) == 0xC038, "nle_settings layout of nle 1.3.0");
_Static_assert(sizeof(cnh_settings) == 0xC048, "nle_settings layout of nle 1.3.0");

typedef void *(*start_fn)(cnh_observation *, FILE *, cnh_settings *);
typedef void *(*step_fn)(void *, cnh_observation *);
typedef void (*end_fn)(void *);

struct cnh_game {
    int fd;               /* the memfd holding our copy */
    char path[64];        /* /proc/self/fd/N */
    void *handle;
    start_fn start;
    step_fn step;
    end_fn end;
    void *context;        /* the running game, or NULL */
};

static void say(char *error, size_t size, const char *what, const char *detail) {
    if (error && size) snprintf(error, size, "%s: %s", what, detail ? detail : "unknown error");
}

static bool open_copy(cnh_game *game, char *error, size_t size) {
    game->handle = dlopen(game->path, RTLD_LAZY | RTLD_LOCAL);
    if (!game->handle) {
        say(error, size, "dlopen of the libnethack copy failed", dlerror());
        return false;
    }
    game->start = (start_fn)dlsym(game->handle, "nle_start");
    game->step = (step_fn)dlsym(game->handle, "nle_step");
    game->end = (end_fn)dlsym(game->handle, "nle_end");
    if (!game->start || !game->step || !game->end) {
        say(error, size, "libnethack lacks nle_start/nle_step/nle_end (not NLE's library?)", NULL);
        dlclose(game->handle);
        game->handle = NULL;
        return false;
    }
    return true;
}

cnh_game *cnh_load(const char *library_path, char *error, size_t size) {
    int source = open(library_path, O_RDONLY | O_CLOEXEC);
    if (source < 0) {
        say(error, size, library_path, strerror(errno));
        return NULL;
    }
    cnh_game *game = calloc(1, sizeof *game);
    if (!game) {
        close(source);
        say(error, size, "out of memory", NULL);
        return NULL;
    }
    game->fd = memfd_create("libnethack", MFD_CLOEXEC);
    if (game->fd < 0) {
        say(error, size, "memfd_create", strerror(errno));
        close(source);
        free(game);
        return NULL;
    }
    char buffer[1 << 16];
    ssize_t got;
    while ((got = read(source, buffer, sizeof buffer)) > 0) {
        for (ssize_t done = 0; done < got;) {
            ssize_t put = write(game->fd, buffer + done, (size_t)(got - done));
            if (put < 0) {
                if (errno == EINTR) continue;
                say(error, size, "copying libnethack", strerror(errno));
                close(source);
                close(game->fd);
                free(game);
                return NULL;
            }
            done += put;
        }
    }
    close(source);
    if (got < 0) {
        say(error, size, library_path, strerror(errno));
        close(game->fd);
        free(game);
        return NULL;
    }
    snprintf(game->path, sizeof game->path, "/proc/self/fd/%d", game->fd);
    if (!open_copy(game, error, size)) {
        close(game->fd);
        free(game);
        return NULL;
    }
    return game;
}

bool cnh_start(cnh_game *game, cnh_observation *observation, cnh_settings *settings, char *error, size_t size) {
    if (!game->handle) {
        say(error, size, "libnethack copy not loaded", NULL);
        return false;
    }
    game->context = game->start(observation, NULL, settings);
    if (!game->context) say(error, size, "nle_start returned no game", NULL);
    return game->context != NULL;
}

void cnh_step(cnh_game *game, cnh_observation *observation) {
    game->step(game->context, observation);
}

bool cnh_end(cnh_game *game, char *error, size_t size) {
    if (game->context) {
        game->end(game->context);
        game->context = NULL;
    }
    if (game->handle) {
        dlclose(game->handle);
        game->handle = NULL;
        /* A copy that stayed mapped would start its next game on stale globals (and crash). */
        void *stale = dlopen(game->path, RTLD_LAZY | RTLD_NOLOAD);
        if (stale) {
            dlclose(stale);
            say(error, size, "the libnethack copy was not unloaded", NULL);
            return false;
        }
    }
    return open_copy(game, error, size);
}

void cnh_unload(cnh_game *game) {
    if (!game) return;
    if (game->context) game->end(game->context);
    if (game->handle) dlclose(game->handle);
    close(game->fd);
    free(game);
}

bool cnh_prepare_settings(cnh_settings *settings, const char *hackdir, const char *options,
                          unsigned long core_seed, unsigned long display_seed, unsigned long time_seed) {
    memset(settings, 0, sizeof *settings);
    if (strlen(hackdir) >= sizeof settings->hackdir || strlen(options) >= sizeof settings->options) return false;
    strcpy(settings->hackdir, hackdir);
    strcpy(settings->options, options);
    settings->spawn_monsters = 1;
    settings->initial_seeds.seeds[0] = core_seed;
    settings->initial_seeds.seeds[1] = display_seed;
    settings->initial_seeds.reseed = 0;
    settings->initial_seeds.use_initial_seeds = true;
    settings->fix_moon_phase = true;
    settings->time_seed = time_seed;
    settings->use_time_seed = true;
    return true;
}

size_t cnh_settings_size(void) { return sizeof(cnh_settings); }
size_t cnh_observation_size(void) { return sizeof(cnh_observation); }
