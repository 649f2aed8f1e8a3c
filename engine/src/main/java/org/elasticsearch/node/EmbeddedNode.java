package org.elasticsearch.node;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A node whose plugins are classes on the class path (see {@link ClasspathPluginsService}). The
 * hook for the plugins service, {@code NodeServiceProvider}, and the constructor taking a
 * prepared {@code NodeConstruction} are package-private, hence this package.
 */
public final class EmbeddedNode extends Node {
    public EmbeddedNode(Settings settings, List<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(
            new Environment(settings, null),
            PluginsLoader.createPluginsLoader(Set.of(), Set.of(), Map.of(), false),
            new NodeServiceProvider() {
                @Override
                PluginsService newPluginService(Environment environment, PluginsLoader loader) {
                    return new ClasspathPluginsService(environment.settings(), loader, plugins);
                }
            },
            true));
    }
}
