/* metadata functions; included by snd.h. */
#pragma once
