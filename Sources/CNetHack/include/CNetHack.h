/*
 * Oni's declarations of the NetHack Learning Environment's C API, as the
 * libnethack.so of the nle 1.3.0 wheel exports it, and a loader that gives
 * every game its own private copy of that library.
 *
 * libnethack keeps all game state in process-global variables with generic
 * names (u, flags, rn2, ...), so one loaded copy runs one game, and a copy
 * cannot start a second game after nle_end: a new episode reloads the copy.
 * Never link libnethack at build time.
 */
#ifndef ONI_CNETHACK_H
#define ONI_CNETHACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CNH_ROWS 21
#define CNH_COLUMNS 79
#define CNH_MESSAGE_SIZE 256
#define CNH_BLSTATS_SIZE 27
#define CNH_PROGRAM_STATE_SIZE 6
#define CNH_INTERNAL_SIZE 9
#define CNH_MISC_SIZE 3
#define CNH_INVENTORY_SIZE 55
#define CNH_INVENTORY_STRING_LENGTH 80
#define CNH_TERMINAL_ROWS 24
#define CNH_TERMINAL_COLUMNS 80

/* The observation buffers a step fills; a NULL buffer is not filled. */
typedef struct cnh_observation {
    int action;              /* key for the next step */
    int done;                /* the game is over */
    char in_normal_game;     /* map observations are valid */
    int how_done;            /* how the game ended (NetHack's game_end_types) */
    int16_t *glyphs;         /* [21 * 79] */
    uint8_t *chars;          /* [21 * 79] */
    uint8_t *colors;         /* [21 * 79] */
    uint8_t *specials;       /* [21 * 79] */
    long *blstats;           /* [27] */
    uint8_t *message;        /* [256] */
    int *program_state;      /* [6]: gameover, panicking, exiting, in_moveloop, in_impossible, worth_saving */
    int *internal;           /* [9]: deepest level, in_yn, in_getlin, waiting for space, on stairs down, -, -, hunger, rexp */
    int16_t *inv_glyphs;     /* [55] */
    uint8_t *inv_strs;       /* [55 * 80] */
    uint8_t *inv_letters;    /* [55] */
    uint8_t *inv_oclasses;   /* [55] */
    uint8_t *screen_descriptions; /* [21 * 79 * 80]; requesting it changes the game's random stream */
    uint8_t *tty_chars;      /* [24 * 80] */
    int8_t *tty_colors;      /* [24 * 80] */
    uint8_t *tty_cursor;     /* [2]: row, column */
    int *misc;               /* [3]: in_yn, in_getlin, waiting for space */
} cnh_observation;

typedef struct cnh_seeds {
    unsigned long seeds[2];  /* core, display */
    char reseed;             /* NetHack's anti-TAS reseeding */
    bool use_initial_seeds;
    unsigned long level_generator_seed;
    bool use_level_generator_seed;
} cnh_seeds;

/* nle 1.3.0's settings (49,224 bytes); copied by the library at start. */
typedef struct cnh_settings {
    char hackdir[4096];
    char scoreprefix[4096];
    char options[32768];     /* NETHACKOPTIONS, comma-separated */
    char wizkit[4096];
    int spawn_monsters;
    char ttyrecname[4096];
    cnh_seeds initial_seeds;
    bool fix_moon_phase;     /* with use_time_seed: moon, Friday 13th, night from time_seed, not the clock */
    unsigned long time_seed;
    bool use_time_seed;
} cnh_settings;

/* One private copy of libnethack.so and the game it runs. */
typedef struct cnh_game cnh_game;

/* Copies the library at `library_path` into anonymous memory and loads it.
 * NULL on failure, with the reason in `error`. */
cnh_game *cnh_load(const char *library_path, char *error, size_t error_size);

/* Starts a game; false (reason in `error`) if the copy is not loaded. */
bool cnh_start(cnh_game *game, cnh_observation *observation, cnh_settings *settings, char *error, size_t error_size);

/* Sends observation->action and fills the observation. */
void cnh_step(cnh_game *game, cnh_observation *observation);

/* Ends the running game, if any, and reloads the copy so that it can start
 * another; false (reason in `error`) if the reload failed. */
bool cnh_end(cnh_game *game, char *error, size_t error_size);

/* Ends the game and releases the copy. */
void cnh_unload(cnh_game *game);

/* Zeroes `settings` and fills them as NLE does for a seeded episode: the game
 * directory, NetHack's options, normal monster spawning, core and display
 * seeds without reseeding, and the moon phase and date drawn from time_seed
 * instead of the clock. False if a text does not fit. */
bool cnh_prepare_settings(cnh_settings *settings, const char *hackdir, const char *options,
                          unsigned long core_seed, unsigned long display_seed, unsigned long time_seed);

/* Sizes, for checks from Swift. */
size_t cnh_settings_size(void);
size_t cnh_observation_size(void);

#endif
