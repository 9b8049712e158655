/* timeseries functions; included by snd.h. */
#pragma once
