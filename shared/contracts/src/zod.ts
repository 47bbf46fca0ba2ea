import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// One zod instance for the whole platform, extended once with `.openapi()` so that the
// same schemas validate requests/events and generate the OpenAPI document.
extendZodWithOpenApi(z);

export { z };
